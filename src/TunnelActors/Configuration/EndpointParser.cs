using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace TunnelActors.Configuration;

/// <summary>Parses <c>HOST:PORT</c> and <c>[IPv6]:PORT</c>, resolving names once at start-up.</summary>
public static class EndpointParser
{
    public static IPEndPoint Parse(string key, string text)
    {
        var (host, port) = Split(key, text);
        return new IPEndPoint(Resolve(key, host), port);
    }

    /// <summary>
    /// Where to dial: an address as given, or a host name kept as a name (checked to resolve now), so that
    /// every redial resolves it again — the far side's address may change (dynamic DNS behind a NAT).
    /// </summary>
    public static EndPoint ParseDialTarget(string key, string text)
    {
        var (host, port) = Split(key, text);
        var address = Resolve(key, host);
        return IPAddress.TryParse(host, out _) ? new IPEndPoint(address, port) : new DnsEndPoint(host, port);
    }

    private static (string Host, int Port) Split(string key, string text)
    {
        text = text.Trim();
        string host, port;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']');
            if (close < 0 || close + 1 >= text.Length || text[close + 1] != ':')
                throw new ConfigurationException(key, $"'{text}' is not [IPv6]:PORT");
            host = text[1..close];
            port = text[(close + 2)..];
        }
        else
        {
            var colon = text.LastIndexOf(':');
            if (colon <= 0 || text.IndexOf(':') != colon)
                throw new ConfigurationException(key, $"'{text}' is not HOST:PORT (write IPv6 addresses as [addr]:port)");
            host = text[..colon];
            port = text[(colon + 1)..];
        }

        if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var portNumber))
            throw new ConfigurationException(key, $"'{port}' is not a port number");
        if (portNumber > IPEndPoint.MaxPort)
            throw new ConfigurationException(key, $"port {portNumber} is out of range 0-65535");

        return (host, portNumber);
    }

    private static IPAddress Resolve(string key, string host)
    {
        if (IPAddress.TryParse(host, out var address)) return address;
        try
        {
            var addresses = Dns.GetHostAddresses(host);
            return addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
                   ?? addresses.FirstOrDefault()
                   ?? throw new ConfigurationException(key, $"host '{host}' has no address");
        }
        catch (SocketException e)
        {
            throw new ConfigurationException(key, $"host '{host}' cannot be resolved ({e.Message})");
        }
    }
}
