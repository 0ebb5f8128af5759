using System.Net.Security;
using TunnelActors.Configuration;

namespace TunnelActors.Carriers;

/// <summary>
/// The certificate a TLS listener serves, read again when its files change (a renewal by certbot): each new
/// connection asks for <see cref="Current"/>, which looks at the files' times at most once a second. A connection
/// keeps the certificate it was given. Files caught half-written, or a key that does not match, leave the previous
/// certificate in place, said once per change; the next change is tried again. Thread-safe: handshakes run on the
/// thread pool.
/// </summary>
internal sealed class CertificateStore
{
    private static readonly TimeSpan LookEvery = TimeSpan.FromSeconds(1);

    private readonly string _certFile;
    private readonly string _keyFile;
    private readonly Action<string> _warn;
    private readonly Action<string> _info;
    private readonly Lock _lock = new();
    private SslStreamCertificateContext _current;
    private (DateTime Cert, DateTime Key) _stamp;
    private (DateTime Cert, DateTime Key) _failedStamp;
    private long _lookedAt;

    public CertificateStore(string certFile, string keyFile, Action<string> info, Action<string> warn)
    {
        _certFile = certFile;
        _keyFile = keyFile;
        _info = info;
        _warn = warn;
        _stamp = Stamp();
        _current = Load();
        _lookedAt = Environment.TickCount64;
    }

    public SslStreamCertificateContext Current
    {
        get
        {
            lock (_lock)
            {
                var now = Environment.TickCount64;
                if (now - _lookedAt < LookEvery.TotalMilliseconds) return _current;
                _lookedAt = now;
                var stamp = Stamp();
                if (stamp == _stamp || stamp == _failedStamp) return _current;
                try
                {
                    _current = Load();
                    _stamp = stamp;
                    _info($"Serving the new certificate from {_certFile}: {_current.TargetCertificate.Subject}, valid until {_current.TargetCertificate.NotAfter:u}");
                }
                catch (ConfigurationException e)
                {
                    _failedStamp = stamp;
                    _warn($"{e.Message}; still serving the previous certificate");
                }
                return _current;
            }
        }
    }

    private (DateTime, DateTime) Stamp() => (File.GetLastWriteTimeUtc(_certFile), File.GetLastWriteTimeUtc(_keyFile));

    private SslStreamCertificateContext Load()
    {
        var certificate = TlsFiles.LoadCertificate(_certFile, _keyFile);
        try
        {
            return SslStreamCertificateContext.Create(certificate, TlsFiles.Intermediates(_certFile), offline: true);
        }
        catch (Exception e) when (e is IOException or System.Security.Cryptography.CryptographicException)
        {
            certificate.Dispose();
            throw new ConfigurationException("tunnel.tls.cert-file", $"cannot read the chain of '{_certFile}' ({e.Message})");
        }
    }
}
