using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace TunnelActors;

/// <summary>Parses <c>HOST:PORT</c> and <c>[IPv6]:PORT</c>, resolving names once at start-up.</summary>
public static class EndpointParser
{
    public static IPEndPoint Parse(string key, string text)
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

        return new IPEndPoint(Resolve(key, host), portNumber);
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
