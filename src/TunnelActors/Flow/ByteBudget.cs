namespace TunnelActors.Flow;

/// <summary>
/// Bytes that many queues share (every queue of one side): a queue takes before it holds a datagram and
/// returns when the datagram leaves it. Thread-safe; a take that would exceed the limit is refused.
/// </summary>
public sealed class ByteBudget(long limit)
{
    /// <summary>What a queued datagram costs beyond its payload (envelope and message), so empty ones count too.</summary>
    public const int DatagramOverhead = 64;

    private long _limit = limit;
    private long _used;

    public long Limit => Volatile.Read(ref _limit);

    public long Used => Interlocked.Read(ref _used);

    /// <summary>What a datagram of <paramref name="length"/> bytes costs in a queue.</summary>
    public static int CostOf(int length) => length + DatagramOverhead;

    /// <summary>Sets the limit (the side's settings, <c>tunnel.queue-memory</c>); what is held already stays.</summary>
    public void Resize(long newLimit) => Volatile.Write(ref _limit, newLimit);

    /// <summary>Takes <paramref name="bytes"/> if they fit: what is held never exceeds the limit, not even for an instant.</summary>
    public bool TryTake(int bytes)
    {
        var limit = Limit;
        for (var used = Interlocked.Read(ref _used); ; )
        {
            if (used + bytes > limit) return false;
            var seen = Interlocked.CompareExchange(ref _used, used + bytes, used);
            if (seen == used) return true;
            used = seen;
        }
    }

    public void Return(int bytes) => Interlocked.Add(ref _used, -bytes);
}
