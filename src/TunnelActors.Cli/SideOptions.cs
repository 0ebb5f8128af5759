using System.CommandLine;
using TunnelActors.Configuration;

namespace TunnelActors.Cli;

/// <summary>The flags that describe one side, shared by <c>run</c> and <c>check</c>, and the HOCON overrides they make.</summary>
internal sealed class SideOptions
{
    private readonly Option<FileInfo?> _config = new("--config") { Description = "HOCON file with a tunnel { } block; TUNNELACTORS_* environment variables override it, and flags override both", HelpName = "FILE" };
    private readonly Option<string?> _udpListen = new("--udp-listen") { Description = "accept datagrams from any peer on ADDR:PORT", HelpName = "ADDR:PORT" };
    private readonly Option<string?> _udpForward = new("--udp-forward") { Description = "send datagrams to the fixed target HOST:PORT", HelpName = "HOST:PORT" };
    private readonly Option<string?> _tcpListen = new("--tcp-listen") { Description = "accept tunnel connections on ADDR:PORT", HelpName = "ADDR:PORT" };
    private readonly Option<string?> _tcpConnect = new("--tcp-connect") { Description = "dial the far side at HOST:PORT, over TLS at tls://HOST:PORT, or as a WebSocket at ws://HOST:PORT/PATH or wss://HOST:PORT/PATH", HelpName = "HOST:PORT" };
    private readonly Option<string?> _httpProxy = new("--http-proxy") { Description = "dial --tcp-connect through this HTTP proxy (CONNECT); http://USER:PASSWORD@HOST:PORT for basic authentication: " +
        "better in TUNNELACTORS_HTTP_PROXY or the configuration file, where other users cannot read it", HelpName = "URL" };
    private readonly Option<string?> _tlsCa = new("--tls-ca") { Description = "with tls:// or wss://: trust the certificates in FILE (PEM: a private CA, or the far side's own certificate to pin it) instead of the system's store", HelpName = "FILE" };
    private readonly Option<string?> _tlsServerName = new("--tls-server-name") { Description = "with tls:// or wss://: the name sent (SNI) and checked in the far side's certificate; default the host of --tcp-connect", HelpName = "NAME" };
    private readonly Option<string?> _tlsCert = new("--tls-cert") { Description = "with --tcp-listen: serve TLS with the certificate in FILE (PEM, its chain after it: certbot's fullchain.pem); re-read when it changes", HelpName = "FILE" };
    private readonly Option<string?> _tlsKey = new("--tls-key") { Description = "the private key of --tls-cert (PEM: certbot's privkey.pem)", HelpName = "FILE" };
    private readonly Option<string?> _webSocket = new("--websocket") { Description = "with --tcp-listen: take tunnel connections as WebSocket upgrades at PATH (inside TLS with --tls-cert, or plain behind nginx); answer any other request 404", HelpName = "PATH" };
    private readonly Option<string?> _httpFallback = new("--http-fallback") { Description = "with --tcp-listen: hand every connection that is not a proven tunnel connection, byte for byte, to the website at ADDR:PORT (plain HTTP); needs --psk-file or --websocket", HelpName = "ADDR:PORT" };
    private readonly Option<string?> _poolSize = new("--pool-size") { Description = "idle pre-dialed connections (TCP connect + UDP forward); 0 = one, redialled", HelpName = "N" };
    private readonly Option<string?> _idleTimeout = new("--idle-timeout") { Description = "end a session idle this long, e.g. 180s, 5m; 0 = never", HelpName = "DURATION" };
    private readonly Option<string?> _pskFile = new("--psk-file") { Description = "authenticate every tunnel connection with the key in FILE (tunnelactors keygen); both sides need it. " +
        "FILE must belong to the side's user or root, be writable by no one else and not readable by everyone (chmod 600)", HelpName = "FILE" };
    private readonly Option<bool> _noAuth = new("--no-auth") { Description = "let a side that listens on both UDP and TCP start without a key or --tcp-allow" };
    private readonly Option<string[]> _tcpAllow = new("--tcp-allow") { Description = "take tunnel connections only from this network (repeatable)", HelpName = "CIDR", AllowMultipleArgumentsPerToken = false };
    private readonly Option<string[]> _udpAllow = new("--udp-allow") { Description = "take datagrams only from this network (repeatable)", HelpName = "CIDR", AllowMultipleArgumentsPerToken = false };
    private readonly Option<string> _metrics = new("--metrics") { Description = "serve /metrics (Prometheus) and /healthz on this address", HelpName = "ADDR:PORT" };
    private readonly Option<bool> _redact = new("--redact-addresses") { Description = "show peer addresses in logs as a short hash, the same for the same peer" };

    public void AddTo(Command command)
    {
        foreach (Option option in new Option[]
                 {
                     _config, _udpListen, _udpForward, _tcpListen, _tcpConnect, _httpProxy, _tlsCa, _tlsServerName, _tlsCert, _tlsKey, _webSocket, _httpFallback, _poolSize,
                     _idleTimeout, _pskFile, _noAuth, _tcpAllow, _udpAllow, _redact, _metrics,
                 })
            command.Options.Add(option);
    }

    /// <summary>The side's configuration: the file, then <c>TUNNELACTORS_*</c> variables, then the flags. Throws <see cref="ConfigurationException"/>.</summary>
    public TunnelConfiguration Load(ParseResult result) =>
        TunnelConfiguration.Load(result.GetValue(_config)?.FullName, Overrides(result), EnvironmentOverrides.Read(Environment.GetEnvironmentVariables()));

    /// <summary>The flags as HOCON paths and values, laid over the file.</summary>
    private Dictionary<string, string> Overrides(ParseResult result)
    {
        var overrides = new Dictionary<string, string>();
        if (result.GetValue(_udpListen) is { } udpListen) overrides["tunnel.udp.listen"] = udpListen;
        if (result.GetValue(_udpForward) is { } udpForward) overrides["tunnel.udp.forward"] = udpForward;
        if (result.GetValue(_tcpListen) is { } tcpListen) overrides["tunnel.tcp.listen"] = tcpListen;
        if (result.GetValue(_tcpConnect) is { } tcpConnect) overrides["tunnel.tcp.connect"] = tcpConnect;
        if (result.GetValue(_httpProxy) is { } proxy) overrides["tunnel.http-proxy"] = proxy;
        if (result.GetValue(_tlsCa) is { } ca) overrides["tunnel.tls.ca-file"] = Path.GetFullPath(ca);
        if (result.GetValue(_tlsServerName) is { } serverName) overrides["tunnel.tls.server-name"] = serverName;
        if (result.GetValue(_tlsCert) is { } cert) overrides["tunnel.tls.cert-file"] = Path.GetFullPath(cert);
        if (result.GetValue(_tlsKey) is { } tlsKey) overrides["tunnel.tls.key-file"] = Path.GetFullPath(tlsKey);
        if (result.GetValue(_webSocket) is { } webSocket) overrides["tunnel.websocket.path"] = webSocket;
        if (result.GetValue(_httpFallback) is { } fallback) overrides["tunnel.http-fallback.address"] = fallback;
        if (result.GetValue(_poolSize) is { } pool) overrides["tunnel.tcp.pool-size"] = pool;
        if (result.GetValue(_idleTimeout) is { } idle) overrides["tunnel.session.idle-timeout"] = idle;
        if (result.GetValue(_pskFile) is { } key) overrides["tunnel.auth.psk-file"] = Path.GetFullPath(key);
        if (result.GetValue(_noAuth)) overrides["tunnel.auth.allow-unauthenticated"] = "on";
        if (result.GetValue(_redact)) overrides["tunnel.log.redact-addresses"] = "on";
        if (result.GetValue(_metrics) is { } metricsListen) overrides["tunnel.metrics.listen"] = metricsListen;
        if (result.GetValue(_tcpAllow) is { Length: > 0 } tcpNetworks) overrides["tunnel.tcp.allow"] = string.Join(',', tcpNetworks);
        if (result.GetValue(_udpAllow) is { Length: > 0 } udpNetworks) overrides["tunnel.udp.allow"] = string.Join(',', udpNetworks);
        return overrides;
    }
}
