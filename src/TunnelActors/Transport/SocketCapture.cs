using System.Net;
using System.Net.Sockets;
using Akka.IO;

namespace TunnelActors.Transport;

/// <summary>
/// A bind option that sizes the kernel buffers of a UDP socket Akka.IO binds and keeps the socket, so that
/// the actors carrying datagrams can send on it directly (<see cref="UdpSink"/>).
/// </summary>
public sealed class SocketCapture(UdpSettings settings) : Inet.SocketOptionV2
{
    private volatile Socket? _socket;

    public override void BeforeDatagramBind(Socket s)
    {
        if (settings.ReceiveBuffer > 0) s.ReceiveBufferSize = settings.ReceiveBuffer;
        if (settings.SendBuffer > 0) s.SendBufferSize = settings.SendBuffer;
    }

    public override void AfterBind(Socket s) => _socket = s;

    /// <summary>A sink towards <paramref name="destination"/> on the captured socket; only once bound.</summary>
    public UdpSink SinkTo(IPEndPoint destination) =>
        new(_socket ?? throw new InvalidOperationException("the socket is not bound yet"), destination);
}
