using System.Net.Sockets;
using Akka.IO;

namespace TunnelActors.Transport;

/// <summary>
/// TCP keepalive on a tunnel connection. Akka.IO has no option for it, and a tunnel that is idle for
/// minutes behind a NAT otherwise never learns that its peer is gone.
/// </summary>
internal sealed class TcpKeepAlive(KeepAliveSettings settings) : Inet.SocketOption
{
    public override void AfterConnect(Socket s)
    {
        s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        s.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, (int)Math.Max(1, settings.Idle.TotalSeconds));
        s.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, (int)Math.Max(1, settings.Interval.TotalSeconds));
        s.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, settings.Count);
    }

    public static IEnumerable<Inet.SocketOption> For(TcpSettings tcp) =>
        tcp.KeepAlive.Enabled ? [new TcpKeepAlive(tcp.KeepAlive)] : [];
}
