using System.Net;
using System.Net.Sockets;
using TunnelActors.Configuration;
using TunnelActors.Observability;

namespace TunnelActors.Transport;

/// <summary>
/// Sends datagrams to one fixed address on a UDP socket that Akka.IO bound, straight from the actor that
/// decoded them. A send never blocks and never throws: a datagram the kernel cannot take at once is refused
/// (the caller counts it by why), which is what UDP would do. Akka.IO's own send path is not used: it drops
/// zero-length datagrams and queues sends without bound.
/// </summary>
public sealed class UdpSink
{
    private readonly SocketCapture _socket;
    private readonly SocketAddress _address;
    private readonly bool _peer;

    /// <summary>Made by <see cref="SocketCapture.SinkTo"/>, once the socket is bound.</summary>
    /// <param name="peer">Whether <paramref name="destination"/> is a peer (which a log may not name) or the configured target.</param>
    internal UdpSink(SocketCapture socket, IPEndPoint destination, bool peer)
    {
        _socket = socket;
        _peer = peer;
        Destination = destination;
        _address = destination.Serialize();
        MaxDatagram = TunnelSettings.MaxUdpPayload(destination.AddressFamily);
    }

    /// <summary>Where every datagram goes; also the only source whose datagrams the session takes.</summary>
    public IPEndPoint Destination { get; }

    /// <summary>The largest datagram UDP carries to <see cref="Destination"/>.</summary>
    public int MaxDatagram { get; }

    /// <summary>Sends the datagram; false, with why, when the kernel refused it.</summary>
    public bool TrySend(ReadOnlySpan<byte> datagram, out SendError error) => NonBlockingSend.SendTo(_socket.Current!, datagram, _address, out error);

    /// <summary>Sends datagrams laid end to end in <paramref name="data"/>; <paramref name="errors"/>[i] says why one was refused, or is null.</summary>
    public void SendMany(ReadOnlySpan<byte> data, ReadOnlySpan<int> lengths, Span<SendError?> errors) =>
        NonBlockingSend.SendMany(_socket.Current!, data, lengths, _address, errors);

    /// <summary>How <see cref="Destination"/> appears in a log: a peer as <c>tunnel.log.redact-addresses</c> says, the target plainly.</summary>
    public string Show(AddressDisplay addresses) => _peer ? addresses.Show(Destination) : AddressDisplay.Plain(Destination);
}
