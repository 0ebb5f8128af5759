namespace TunnelActors.Flow;

/// <summary>
/// Bytes that many queues share (every queue of one side): a queue takes before it holds a datagram and
/// returns when the datagram leaves it. Thread-safe; a take that would exceed the limit is refused.
/// </summary>
public sealed class ByteBudget(long limit)
{
    private long _used;

    public long Limit => limit;

    public long Used => Interlocked.Read(ref _used);

    public bool TryTake(int bytes)
    {
        if (Interlocked.Add(ref _used, bytes) <= limit) return true;
        Interlocked.Add(ref _used, -bytes);
        return false;
    }

    public void Return(int bytes) => Interlocked.Add(ref _used, -bytes);
}
