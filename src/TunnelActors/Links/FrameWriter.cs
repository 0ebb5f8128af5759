using Akka.Actor;
using Akka.IO;
using TunnelActors.Framing;
using TunnelActors.Observability;

namespace TunnelActors.Links;

/// <summary>
/// UDP → TCP on one connection: datagrams are framed into a <see cref="SendBuffer"/> (bounded in bytes and age)
/// and written one acknowledged write at a time, the rest coalescing behind it. The first datagram after a quiet
/// spell is not written at once: the write is <see cref="Due"/> after whatever already waits in the inbox, so a
/// batch of datagrams received together leaves in one write. Every datagram that cannot wait
/// is counted under its reason. Akka.IO's write queue is unbounded by default, so it never holds more than one
/// write of <c>tcp.max-write</c>.
/// </summary>
internal sealed class FrameWriter(IActorRef connection, IActorRef self, SendBuffer buffer)
{
    /// <summary>Akka.IO's answer to a write; hand it to <see cref="Acknowledged"/>.</summary>
    public sealed class Ack : Tcp.Event
    {
        public static readonly Ack Instance = new();
        private Ack() { }
    }

    /// <summary>The writer's note to its actor, queued behind the datagrams already waiting: hand it to <see cref="Write"/>.</summary>
    public sealed class Due
    {
        public static readonly Due Instance = new();
        private Due() { }
    }

    private bool _inFlight;
    private bool _due;

    public void Enqueue(ReadOnlySpan<byte> datagram, TrafficCounters counters)
    {
        var encoded = LengthPrefixedCodec.Instance.EncodedLength(datagram.Length);
        var now = Environment.TickCount64;
        if (!buffer.HasRoomFor(encoded))
        {
            counters.CountDrops(DropReason.QueueDelay, buffer.DropStale(now));
            if (!buffer.HasRoomFor(encoded))
            {
                counters.CountDrop(DropReason.TcpSendQueueFull);
                return;
            }
        }
        if (!buffer.TryAppend(datagram, now))
        {
            counters.CountDrop(DropReason.SideMemoryFull);
            return;
        }
        if (_inFlight || _due) return;
        _due = true;
        self.Tell(Due.Instance, self);
    }

    /// <summary>On <see cref="Due"/>: writes what gathered since it was asked for, unless a write is in flight.</summary>
    public void Write(TrafficCounters counters)
    {
        _due = false;
        Flush(counters);
    }

    /// <summary>Starts the next write unless one is in flight; true when nothing is left to write.</summary>
    public bool Flush(TrafficCounters counters)
    {
        if (_inFlight) return false;
        var write = buffer.TakeForWrite(Environment.TickCount64, out var stale);
        counters.CountDrops(DropReason.QueueDelay, stale);
        if (write is not { } frames) return true;
        _inFlight = true;
        connection.Tell(Tcp.Write.Create(frames.Data, Ack.Instance), self);
        counters.CountToTcp(frames.Datagrams, frames.PayloadBytes);
        return false;
    }

    /// <summary>The write was taken by the socket (or refused, the connection going down): the next may start.</summary>
    public void Acknowledged()
    {
        _inFlight = false;
        buffer.Written();
    }

    /// <summary>Gives up what waits (the connection is gone); returns how many datagrams that was.</summary>
    public int Discard() => buffer.Discard();
}
