using Akka.Event;
using TunnelActors.Framing;
using TunnelActors.Observability;
using TunnelActors.Transport;

namespace TunnelActors.Links;

/// <summary>
/// TCP → UDP: each datagram decoded from the connection goes out at once on its binding's sink, counted by what
/// became of it: sent, too large for UDP, or refused by the kernel (why, logged once a minute per cause).
/// </summary>
internal sealed class SinkDelivery(Link.Binding binding, ILoggingAdapter log, SendErrorLog errors) : IDatagramReceiver
{
    public void Receive(ReadOnlySpan<byte> datagram)
    {
        var sink = binding.Sink;
        var counters = binding.Counters;
        if (datagram.Length > sink.MaxDatagram) counters.CountDrop(DropReason.Oversize);
        else if (sink.TrySend(datagram, out var error))
        {
            counters.CountToUdp(datagram.Length);
            binding.Activity.SawFromTunnel();
        }
        else
        {
            counters.CountDrop(error.Reason);
            errors.Log(log, error, sink);
        }
    }
}

/// <summary>Decoded datagrams with nowhere to go: counted under a reason.</summary>
internal sealed class Dropping(Func<TrafficCounters> counters, DropReason reason) : IDatagramReceiver
{
    public void Receive(ReadOnlySpan<byte> datagram) => counters().CountDrop(reason);
}
