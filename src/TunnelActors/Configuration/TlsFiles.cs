using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace TunnelActors.Configuration;

/// <summary>The PEM files of <c>tunnel.tls</c>: what certbot writes (<c>fullchain.pem</c>, <c>privkey.pem</c>) and a CA's certificate.</summary>
public static class TlsFiles
{
    /// <summary>The certificates of a PEM file, trusted in place of the system's store (a private CA, or a server's own self-signed certificate).</summary>
    public static X509Certificate2Collection LoadTrust(string key, string path)
    {
        var trust = new X509Certificate2Collection();
        try
        {
            trust.ImportFromPemFile(Path.GetFullPath(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new ConfigurationException(key, $"cannot read certificates from '{path}' ({e.Message})");
        }
        if (trust.Count == 0) throw new ConfigurationException(key, $"'{path}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        return trust;
    }

    /// <summary>The certificate to serve, with its key; the caller disposes it. Throws <see cref="ConfigurationException"/> naming the file at fault.</summary>
    public static X509Certificate2 LoadCertificate(string certFile, string keyFile)
    {
        X509Certificate2Collection chain;
        try
        {
            chain = [];
            chain.ImportFromPemFile(certFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new ConfigurationException("tunnel.tls.cert-file", $"cannot read a certificate from '{certFile}' ({e.Message})");
        }
        if (chain.Count == 0) throw new ConfigurationException("tunnel.tls.cert-file", $"'{certFile}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        foreach (var extra in chain) extra.Dispose();
        try
        {
            return X509Certificate2.CreateFromPemFile(certFile, keyFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            throw new ConfigurationException("tunnel.tls.key-file", $"cannot read the private key of '{certFile}' from '{keyFile}' ({e.Message})");
        }
    }

    /// <summary>The certificates after the first in the certificate file: the chain a server sends with its own.</summary>
    public static X509Certificate2Collection Intermediates(string certFile)
    {
        var chain = new X509Certificate2Collection();
        chain.ImportFromPemFile(certFile);
        var leaf = chain[0];
        chain.RemoveAt(0);
        leaf.Dispose();
        return chain;
    }
}
