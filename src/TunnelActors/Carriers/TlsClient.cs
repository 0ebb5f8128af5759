using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using TunnelActors.Configuration;

namespace TunnelActors.Carriers;

/// <summary>
/// The dialing end of TLS: the far side's certificate must chain to the trusted CAs (<c>tls.ca-file</c>, or the
/// system's), be valid now and name <c>tls.server-name</c>; nothing turns that off. A refusal names its cause, which
/// .NET's own exception does not.
/// </summary>
internal static class TlsClient
{
    public static async Task AuthenticateAsync(SslStream stream, TlsSettings tls, CancellationToken cancellation)
    {
        string? refusal = null;
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = tls.ServerName,
            // Revocation lists are fetched from the network; a relay must not hang on a CA's web server.
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
            {
                refusal = Refusal(tls, certificate as X509Certificate2, chain, errors);
                return refusal is null;
            },
        };
        if (tls.Trust is { } trust)
        {
            options.CertificateChainPolicy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
            };
            options.CertificateChainPolicy.CustomTrustStore.AddRange(trust);
        }
        try
        {
            await stream.AuthenticateAsClientAsync(options, cancellation);
        }
        catch (AuthenticationException) when (refusal is not null)
        {
            throw new AuthenticationException(refusal);
        }
    }

    private static string? Refusal(TlsSettings tls, X509Certificate2? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None) return null;
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable)) return "the far side sent no certificate";
        var trusted = tls.Trust is null ? "the system's CA store" : "tls.ca-file";
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors))
        {
            var status = chain?.ChainStatus.Select(s => s.Status).Aggregate(X509ChainStatusFlags.NoError, (a, b) => a | b) ?? X509ChainStatusFlags.NoError;
            var now = DateTime.Now;
            if (status.HasFlag(X509ChainStatusFlags.NotTimeValid))
                return certificate.NotAfter < now
                    ? $"the far side's certificate ({certificate.Subject}) expired on {certificate.NotAfter.ToUniversalTime():u}"
                    : certificate.NotBefore > now
                        ? $"the far side's certificate ({certificate.Subject}) is not valid before {certificate.NotBefore.ToUniversalTime():u}"
                        : $"a certificate in the far side's chain is outside its validity ({certificate.Subject})";
            if (status.HasFlag(X509ChainStatusFlags.UntrustedRoot) || status.HasFlag(X509ChainStatusFlags.PartialChain))
                return $"the far side's certificate ({certificate.Subject}, issued by {certificate.Issuer}) is not signed by a CA in {trusted}";
            return $"the far side's certificate ({certificate.Subject}) does not verify against {trusted}: {status}";
        }
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
            return $"the far side's certificate ({certificate.Subject}) is not for '{tls.ServerName}' (tls.server-name)";
        return $"the far side's certificate was refused: {errors}";
    }
}
