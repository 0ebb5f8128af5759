using System.Net;
using System.Net.Sockets;

namespace TunnelActors.BenchMatrix.Processes;

/// <summary>Ports that were free a moment ago: bound with port 0, read back, released.</summary>
internal static class FreePorts
{
    public static int Udp(IPAddress address) => Bound(address, SocketType.Dgram, ProtocolType.Udp, 0) ?? throw new InvalidOperationException("no free UDP port");

    public static int Tcp(IPAddress address) => Bound(address, SocketType.Stream, ProtocolType.Tcp, 0) ?? throw new InvalidOperationException("no free TCP port");

    /// <summary>A first port P such that P..P+count-1 are all free for UDP on the address.</summary>
    public static int UdpRange(IPAddress address, int count)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var first = Udp(address);
            if (first + count > 65535) continue;
            if (Enumerable.Range(first + 1, count - 1).All(port => Bound(address, SocketType.Dgram, ProtocolType.Udp, port) is not null)) return first;
        }
        throw new InvalidOperationException($"no {count} consecutive free UDP ports on {address}");
    }

    private static int? Bound(IPAddress address, SocketType type, ProtocolType protocol, int port)
    {
        using var socket = new Socket(address.AddressFamily, type, protocol);
        try
        {
            socket.Bind(new IPEndPoint(address, port));
            return ((IPEndPoint)socket.LocalEndPoint!).Port;
        }
        catch (SocketException)
        {
            return null;
        }
    }
}
