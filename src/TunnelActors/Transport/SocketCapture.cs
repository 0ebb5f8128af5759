using System.Net;
using System.Net.Sockets;
using Akka.IO;

namespace TunnelActors.Transport;

/// <summary>
/// A bind option that keeps the socket Akka.IO UDP binds. Datagrams are sent on it directly from the
/// session that owns the reply path: Akka.IO UDP drops zero-length datagrams instead of sending them, and
/// its socket actor queues sends without bound. A synchronous non-blocking SendTo fails at once instead
/// (counted as a drop), which is what UDP would do.
/// </summary>
public sealed class SocketCapture(UdpSettings settings) : Inet.SocketOptionV2
{
    private volatile Socket? _socket;

    public override void BeforeDatagramBind(Socket s)
    {
        if (settings.ReceiveBuffer > 0) s.ReceiveBufferSize = settings.ReceiveBuffer;
        if (settings.SendBuffer > 0) s.SendBufferSize = settings.SendBuffer;
    }

    public Socket? Socket => _socket;

    public override void AfterBind(Socket s) => _socket = s;

    /// <summary>Sends one datagram; false when the socket refused it.</summary>
    public bool TrySend(ByteString datagram, EndPoint target)
    {
        var socket = _socket;
        if (socket is null) return false;
        try
        {
            socket.SendTo(datagram.ToReadOnlySpan(), SocketFlags.None, target);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }
}
