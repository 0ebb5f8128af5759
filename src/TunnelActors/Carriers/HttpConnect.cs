using System.Net;
using System.Text;
using TunnelActors.Configuration;

namespace TunnelActors.Carriers;

/// <summary>
/// Opens a tunnel through an HTTP proxy: <c>CONNECT HOST:PORT</c> (RFC 9110 §9.3.6), with basic authentication when
/// the proxy setting has a user, and reads the proxy's answer up to the end of its header, not a byte further: what
/// follows belongs to the far side. Anything but a 2xx is a refusal that names what the proxy answered.
/// </summary>
internal static class HttpConnect
{
    private const int MaxHeader = 16 * 1024;

    public static async Task OpenAsync(Stream proxy, EndPoint target, HttpProxySettings settings, CancellationToken cancellation)
    {
        var authority = target switch
        {
            DnsEndPoint dns => $"{dns.Host}:{dns.Port}",
            IPEndPoint { Address.AddressFamily: System.Net.Sockets.AddressFamily.InterNetworkV6 } v6 => $"[{v6.Address}]:{v6.Port}",
            _ => target.ToString(),
        };
        var request = new StringBuilder($"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
        if (settings.User is { } user)
            request.Append("Proxy-Authorization: Basic ").Append(Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{settings.Password}"))).Append("\r\n");
        request.Append("\r\n");
        await proxy.WriteAsync(Encoding.ASCII.GetBytes(request.ToString()), cancellation);

        var header = new List<byte>(256);
        var one = new byte[1];
        while (!EndsHeader(header))
        {
            if (header.Count >= MaxHeader) throw new IOException($"the HTTP proxy {settings} sent more than {MaxHeader} bytes of header to CONNECT {authority}");
            if (await proxy.ReadAsync(one, cancellation) == 0)
                throw new IOException(header.Count == 0
                    ? $"the HTTP proxy {settings} closed the connection without answering CONNECT {authority}"
                    : $"the HTTP proxy {settings} closed the connection in its answer to CONNECT {authority}");
            header.Add(one[0]);
        }
        var text = Encoding.ASCII.GetString(header.ToArray());
        var status = text[..text.IndexOf("\r\n", StringComparison.Ordinal)];
        var parts = status.Split(' ', 3);
        if (parts.Length < 2 || !parts[0].StartsWith("HTTP/1.", StringComparison.Ordinal) || !int.TryParse(parts[1], out var code))
            throw new IOException($"the HTTP proxy {settings} did not answer CONNECT {authority} in HTTP ('{status}')");
        if (code is >= 200 and < 300) return;
        var why = code switch
        {
            407 when settings.User is null => ": it wants a user and password (http://USER:PASSWORD@HOST:PORT in tunnel.http-proxy)",
            407 => $": it refused the password of '{settings.User}'",
            403 => ": it does not allow CONNECT to that address and port",
            502 or 503 or 504 => ": it could not reach the far side",
            _ => "",
        };
        throw new IOException($"the HTTP proxy {settings} answered '{status}' to CONNECT {authority}{why}");
    }

    private static bool EndsHeader(List<byte> header) =>
        header.Count >= 4 && header[^4] == '\r' && header[^3] == '\n' && header[^2] == '\r' && header[^1] == '\n';
}
