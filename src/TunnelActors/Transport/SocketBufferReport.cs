using System.Net.Sockets;
using Akka.Event;
using TunnelActors.Configuration;

namespace TunnelActors.Transport;

/// <summary>
/// Logs once, at start, the kernel buffer sizes this side's sockets get. The kernel caps what a socket asks
/// for at <c>net.core.rmem_max</c> / <c>wmem_max</c> without an error, so a setting can silently not hold:
/// a capped size is a warning that names the sysctl that raises it.
/// </summary>
internal static class SocketBufferReport
{
    private sealed record Buffer(string Name, string Key, int Asked, int Granted, string Sysctl);

    public static void Log(TunnelSettings settings, ILoggingAdapter log)
    {
        var family = settings.Udp.Endpoint.AddressFamily;
        var buffers = new List<Buffer>();
        using (var udp = new Socket(family, SocketType.Dgram, ProtocolType.Udp))
        {
            buffers.Add(Probe(udp, "UDP receive", "tunnel.udp.receive-buffer", settings.Udp.ReceiveBuffer, receive: true));
            buffers.Add(Probe(udp, "UDP send", "tunnel.udp.send-buffer", settings.Udp.SendBuffer, receive: false));
        }
        using (var tcp = new Socket(settings.Tcp.Endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp))
        {
            buffers.Add(Probe(tcp, "TCP receive", "tunnel.tcp.receive-buffer", settings.Tcp.ReceiveBuffer, receive: true));
            buffers.Add(Probe(tcp, "TCP send", "tunnel.tcp.send-buffer", settings.Tcp.SendBuffer, receive: false));
        }

        var lowWater = settings.Tcp.NotSentLowWater > 0 ? Size(settings.Tcp.NotSentLowWater) : "no limit";
        log.Info("Socket buffers: {0}; unsent TCP bytes in the kernel: {1}",
            string.Join(", ", buffers.Select(b => $"{b.Name} {(b.Asked > 0 ? Size(b.Granted) : $"{Size(b.Granted)} (system default)")}")), lowWater);
        foreach (var capped in buffers.Where(b => b.Asked > 0 && b.Granted < b.Asked))
            log.Warning("{0} buffer: {1} asked ({2}), the kernel granted {3}; raise the cap with sysctl -w {4}={5}",
                capped.Name, Size(capped.Asked), capped.Key, Size(capped.Granted), capped.Sysctl, capped.Asked);
    }

    private static Buffer Probe(Socket socket, string name, string key, int asked, bool receive)
    {
        if (asked > 0)
        {
            if (receive) socket.ReceiveBufferSize = asked;
            else socket.SendBufferSize = asked;
        }
        var reported = receive ? socket.ReceiveBufferSize : socket.SendBufferSize;
        // Linux reports twice what it grants a socket's data (the rest is its own bookkeeping).
        var granted = OperatingSystem.IsLinux() ? reported / 2 : reported;
        return new Buffer(name, key, asked, granted, receive ? "net.core.rmem_max" : "net.core.wmem_max");
    }

    private static string Size(int bytes) => bytes switch
    {
        >= 1 << 20 when bytes % (1 << 20) == 0 => $"{bytes >> 20} MiB",
        >= 1 << 10 when bytes % (1 << 10) == 0 => $"{bytes >> 10} KiB",
        _ => $"{bytes} B",
    };
}
