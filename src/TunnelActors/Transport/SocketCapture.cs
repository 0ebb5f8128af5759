using System.Net;
using System.Net.Sockets;
using Akka.IO;
using TunnelActors.Configuration;

namespace TunnelActors.Transport;

/// <summary>
/// A bind option that sizes the kernel buffers of a UDP socket Akka.IO binds and keeps the socket, so that
/// the actors carrying datagrams can send on it directly (<see cref="UdpSink"/>), and so that its owner can close
/// it whatever happens to Akka.IO's socket actor (<see cref="Close"/>). A socket bound again (after its actor
/// died) replaces the old one for every sink made from it.
/// </summary>
/// <param name="sharePort">Binds with <c>SO_REUSEPORT</c> (Linux), so that the UDP-listen endpoint's shards share one port.</param>
public sealed class SocketCapture(UdpTunnelSettings settings, bool sharePort = false) : Inet.SocketOptionV2
{
    private const int SocketLevel = 1;
    private const int ReusePort = 15;

    private volatile Socket? _socket;
    private volatile bool _closed;

    /// <summary>The socket most recently bound; null before the first bind.</summary>
    public Socket? Current => _socket;

    public override void BeforeDatagramBind(Socket s)
    {
        if (settings.ReceiveBuffer > 0) s.ReceiveBufferSize = settings.ReceiveBuffer;
        if (settings.SendBuffer > 0) s.SendBufferSize = settings.SendBuffer;
        if (sharePort) s.SetRawSocketOption(SocketLevel, ReusePort, BitConverter.GetBytes(1));
    }

    public override void AfterBind(Socket s)
    {
        _socket = s;
        // Bound after its owner stopped (the bind was in flight): nobody will ever unbind it.
        if (_closed) s.Dispose();
    }

    /// <summary>
    /// Closes the socket, now and should a bind still in flight land later. Akka.IO 1.5.74's UDP listener closes
    /// its socket when it stops only if the socket is connected, which these never are: a socket whose handler
    /// stops without an acknowledged unbind (a crash, a restart above it) would otherwise stay bound for good.
    /// </summary>
    public void Close()
    {
        _closed = true;
        _socket?.Dispose();
    }

    /// <summary>Closes the socket after its actor died, so that it can be bound again.</summary>
    public void CloseOrphaned() => _socket?.Dispose();

    /// <summary>A sink towards <paramref name="destination"/> (a peer, or the configured target) on the captured socket; only once bound.</summary>
    public UdpSink SinkTo(IPEndPoint destination, bool peer) =>
        _socket is null ? throw new InvalidOperationException("the socket is not bound yet") : new(this, destination, peer);
}
