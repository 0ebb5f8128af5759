using Akka.IO;
using TunnelActors.Observability;

namespace TunnelActors.Flow;

/// <summary>
/// Datagrams of one peer waiting for its tunnel connection, bounded in bytes (<c>session.queue-limit</c>
/// and the side's <see cref="ByteBudget"/>) and in age: those older than <c>session.queue-max-delay</c> when
/// the connection comes up are dropped, not sent late.
/// </summary>
internal sealed class DatagramQueue(int limitBytes, TimeSpan maxDelay, ByteBudget budget)
{
    private readonly Queue<(Udp.Received Datagram, long Tick)> _items = new();
    private int _bytes;

    /// <summary>Queues the datagram, or names why it was refused.</summary>
    public DropReason? TryEnqueue(Udp.Received datagram)
    {
        var cost = Cost(datagram);
        if (_bytes + cost > limitBytes) return DropReason.SessionQueueFull;
        if (!budget.TryTake(cost)) return DropReason.SideMemoryFull;
        _items.Enqueue((datagram, Environment.TickCount64));
        _bytes += cost;
        return null;
    }

    /// <summary>Hands every queued datagram to <paramref name="send"/>, in order; returns how many were too old.</summary>
    public int Drain(Action<Udp.Received> send)
    {
        var now = Environment.TickCount64;
        var stale = 0;
        while (_items.TryDequeue(out var item))
        {
            Release(item.Datagram);
            if (maxDelay > TimeSpan.Zero && now - item.Tick > maxDelay.TotalMilliseconds) stale++;
            else send(item.Datagram);
        }
        return stale;
    }

    /// <summary>Gives everything back to the side's budget (the session ended); returns how many were dropped.</summary>
    public int Discard()
    {
        var count = _items.Count;
        while (_items.TryDequeue(out var item)) Release(item.Datagram);
        return count;
    }

    private void Release(Udp.Received datagram)
    {
        var cost = Cost(datagram);
        _bytes -= cost;
        budget.Return(cost);
    }

    private static int Cost(Udp.Received datagram) => ByteBudget.CostOf(datagram.Data.Count);
}
