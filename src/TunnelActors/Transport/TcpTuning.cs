using System.Net.Sockets;
using Akka.IO;
using TunnelActors.Configuration;

namespace TunnelActors.Transport;

/// <summary>
/// Socket options of every tunnel connection that Akka.IO has no setting for: kernel buffer sizes
/// (<c>akka.io.tcp.*-buffer-size</c> are only validated, never applied), TCP_NOTSENT_LOWAT, so that frames
/// wait in the send queue where <c>tcp.max-queue-delay</c> can drop them rather than in the kernel,
/// keepalive, so that an idle tunnel behind a NAT notices a peer that is gone, and TCP_USER_TIMEOUT, so that
/// a busy one notices within <c>tcp.user-timeout</c> when nothing it sends is acknowledged any more (by
/// default Linux retransmits for some 15 minutes).
/// </summary>
internal sealed class TcpTuning(TcpTunnelSettings settings) : Inet.SocketOption
{
    private const int TcpNotSentLowWater = 25; // TCP_NOTSENT_LOWAT, linux/tcp.h
    private const int TcpUserTimeout = 18; // TCP_USER_TIMEOUT, linux/tcp.h

    // Accepted connections inherit the listening socket's buffers, and the receive window is negotiated
    // from them during the handshake, so they are set before listening and before connecting.
    public override void BeforeServerSocketBind(Socket s) => SetBuffers(s);

    public override void BeforeConnect(Socket s) => SetBuffers(s);

    public override void AfterConnect(Socket s)
    {
        if (settings.NotSentLowWater > 0 && OperatingSystem.IsLinux())
            s.SetRawSocketOption((int)SocketOptionLevel.Tcp, TcpNotSentLowWater, BitConverter.GetBytes(settings.NotSentLowWater));
        if (settings.UserTimeout > TimeSpan.Zero && OperatingSystem.IsLinux())
            s.SetRawSocketOption((int)SocketOptionLevel.Tcp, TcpUserTimeout, BitConverter.GetBytes((int)settings.UserTimeout.TotalMilliseconds));
        var keepAlive = settings.KeepAlive;
        if (!keepAlive.Enabled) return;
        s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        s.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, (int)Math.Max(1, keepAlive.Idle.TotalSeconds));
        s.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, (int)Math.Max(1, keepAlive.Interval.TotalSeconds));
        s.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, keepAlive.Count);
    }

    private void SetBuffers(Socket s)
    {
        if (settings.SendBuffer > 0) s.SendBufferSize = settings.SendBuffer;
        if (settings.ReceiveBuffer > 0) s.ReceiveBufferSize = settings.ReceiveBuffer;
    }

    public static IEnumerable<Inet.SocketOption> For(TcpTunnelSettings settings) => [new TcpTuning(settings)];
}
