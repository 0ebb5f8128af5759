using System.Net;
using System.Net.Sockets;

namespace TunnelActors.Tools.Bench;

/// <summary>ADDR:PORT or HOST:PORT (IPv6 as [::1]:PORT) on the bench commands' command lines.</summary>
internal static class Endpoints
{
    /// <summary>The endpoint, or null with <paramref name="error"/> saying why.</summary>
    public static IPEndPoint? Parse(string text, bool portOptional, out string? error)
    {
        error = null;
        if (IPAddress.TryParse(text.Trim('[', ']'), out var bare))
        {
            if (portOptional) return new IPEndPoint(bare, 0);
            error = $"'{text}' has no port (want ADDR:PORT)";
            return null;
        }
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !ushort.TryParse(text.AsSpan(colon + 1), out var port))
        {
            error = $"'{text}' is not ADDR:PORT";
            return null;
        }
        var host = text[..colon].Trim('[', ']');
        if (IPAddress.TryParse(host, out var address)) return new IPEndPoint(address, port);
        try
        {
            var addresses = Dns.GetHostAddresses(host);
            var chosen = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault();
            if (chosen is not null) return new IPEndPoint(chosen, port);
        }
        catch (SocketException)
        {
        }
        error = $"cannot resolve '{host}'";
        return null;
    }
}
