using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace TunnelActors.Tests.Support;

/// <summary>A certificate authority made for one test, and server certificates it issues, as PEM files in a directory of its own.</summary>
public sealed class TestPki : IDisposable
{
    private readonly ECDsa _caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly X509Certificate2 _ca;
    private int _serial;

    public TestPki(string name = "TunnelActors test CA")
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("tunnelactors-pki-").FullName;
        var request = new CertificateRequest($"CN={name}", _caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        _ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-90), DateTimeOffset.UtcNow.AddYears(1));
        CaFile = Path.Combine(Directory, "ca.pem");
        File.WriteAllText(CaFile, _ca.ExportCertificatePem());
    }

    public string Directory { get; }

    /// <summary>The CA's certificate: what a client trusts with <c>tls.ca-file</c>.</summary>
    public string CaFile { get; }

    /// <summary>Issues a server certificate for <paramref name="name"/> (and 127.0.0.1) into CERT and KEY files; returns their paths and the certificate's thumbprint.</summary>
    public (string CertFile, string KeyFile, string Thumbprint) Issue(string name = "localhost", TimeSpan? validFor = null, TimeSpan? expiredAgo = null,
        string? certFile = null, string? keyFile = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(name);
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var notAfter = expiredAgo is { } ago ? DateTimeOffset.UtcNow - ago : DateTimeOffset.UtcNow + (validFor ?? TimeSpan.FromDays(30));
        var notBefore = expiredAgo is not null ? notAfter.AddDays(-30) : DateTimeOffset.UtcNow.AddMinutes(-5);
        var serial = BitConverter.GetBytes(Interlocked.Increment(ref _serial) + Environment.TickCount64);
        using var certificate = request.Create(_ca, notBefore, notAfter, serial);
        certFile ??= Path.Combine(Directory, $"cert-{_serial}.pem");
        keyFile ??= Path.Combine(Directory, $"key-{_serial}.pem");
        // The chain after the certificate, as certbot's fullchain.pem has it; written beside, then moved in, as a renewal does.
        File.WriteAllText(certFile + ".new", certificate.ExportCertificatePem() + "\n" + _ca.ExportCertificatePem());
        File.WriteAllText(keyFile + ".new", key.ExportPkcs8PrivateKeyPem());
        File.Move(keyFile + ".new", keyFile, overwrite: true);
        File.Move(certFile + ".new", certFile, overwrite: true);
        return (certFile, keyFile, certificate.Thumbprint);
    }

    public void Dispose()
    {
        _ca.Dispose();
        _caKey.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
