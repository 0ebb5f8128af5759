using System.Net;
using System.Net.Sockets;
using TunnelActors.Configuration;

namespace TunnelActors.Transport;

/// <summary>
/// Sends datagrams to one fixed address on a UDP socket that Akka.IO bound, straight from the actor that
/// decoded them. A send never blocks and never throws: a datagram the kernel cannot take at once is refused
/// (the caller counts it), which is what UDP would do. Akka.IO's own send path is not used: it drops
/// zero-length datagrams and queues sends without bound.
/// </summary>
public sealed class UdpSink
{
    private readonly SocketCapture _socket;
    private readonly SocketAddress _address;

    public UdpSink(SocketCapture socket, IPEndPoint destination)
    {
        _socket = socket;
        Destination = destination;
        _address = destination.Serialize();
        MaxDatagram = TunnelSettings.MaxUdpPayload(destination.AddressFamily);
    }

    /// <summary>Where every datagram goes; also the only source whose datagrams the session takes.</summary>
    public IPEndPoint Destination { get; }

    /// <summary>The largest datagram UDP carries to <see cref="Destination"/>.</summary>
    public int MaxDatagram { get; }

    public bool TrySend(ReadOnlySpan<byte> datagram) => _socket.Current is { } socket && NonBlockingSend.SendTo(socket, datagram, _address);
}
