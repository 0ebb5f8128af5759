namespace TunnelActors.Observability;

/// <summary>Bytes of UDP receive buffers: in use by sockets' receives, and kept free for the next ones. Thread-safe.</summary>
public sealed class BufferCounters
{
    private long _inUse;
    private long _free;

    public long InUse => Interlocked.Read(ref _inUse);

    public long Free => Interlocked.Read(ref _free);

    public void Rented(int bytes, bool reused)
    {
        Interlocked.Add(ref _inUse, bytes);
        if (reused) Interlocked.Add(ref _free, -bytes);
    }

    public void Returned(int bytes, bool kept)
    {
        Interlocked.Add(ref _inUse, -bytes);
        if (kept) Interlocked.Add(ref _free, bytes);
    }
}
