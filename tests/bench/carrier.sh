#!/bin/bash
# A TA_CMD for ../shared/tools/udpbench: runs TunnelActors ($TA_DLL) with its tunnel connections on another carrier,
# to measure it beside plain TCP in the same run:
#   TA_DLL=out/tunnelactors.dll TA_CMD="tests/bench/carrier.sh wss" SCENARIOS=ta scripts/anchors.sh DIR
# CARRIER: tls (tls://, a certificate on the listening side) or wss (the same, as WebSocket messages at /tunnel).
# The certificate (ECDSA P-256, for the name "relay") and its CA are made once with openssl, in $BENCH_PKI.
set -euo pipefail
carrier=$1
shift
pki=${BENCH_PKI:-${TMPDIR:-/tmp}/tunnelactors-bench-pki}
if [ ! -f "$pki/cert.pem" ]; then
	mkdir -p "$pki"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=bench-ca \
		-keyout "$pki/ca.key" -out "$pki/ca.pem" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=relay -keyout "$pki/key.pem" -out "$pki/req.csr" 2>/dev/null
	printf 'subjectAltName=DNS:relay\n' > "$pki/ext.cnf"
	openssl x509 -req -in "$pki/req.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial -days 30 \
		-extfile "$pki/ext.cnf" -out "$pki/cert.pem" 2>/dev/null
fi
args=()
while [ $# -gt 0 ]; do
	case "$1:$carrier" in
	--tcp-connect:tls) args+=(--tcp-connect "tls://$2" --tls-ca "$pki/ca.pem" --tls-server-name relay); shift 2 ;;
	--tcp-connect:wss) args+=(--tcp-connect "wss://$2/tunnel" --tls-ca "$pki/ca.pem" --tls-server-name relay); shift 2 ;;
	--tcp-listen:tls) args+=(--tcp-listen "$2" --tls-cert "$pki/cert.pem" --tls-key "$pki/key.pem"); shift 2 ;;
	--tcp-listen:wss) args+=(--tcp-listen "$2" --tls-cert "$pki/cert.pem" --tls-key "$pki/key.pem" --websocket /tunnel); shift 2 ;;
	*) args+=("$1"); shift ;;
	esac
done
exec dotnet "${TA_DLL:?set TA_DLL to a published tunnelactors.dll}" "${args[@]}"
