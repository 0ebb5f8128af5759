namespace TunnelActors.Tools.Bench.Load;

/// <summary>
/// A peer's counts of its own datagrams, under the peer's lock. Only datagrams sent during the measurement
/// count, except <see cref="WindowExpired"/>.
/// </summary>
internal sealed class PeerCounters
{
    public long Sent, Received, Duplicated, Reordered, Misdelivered, TxFail, WindowExpired;
}

/// <summary>What arrived on one peer's socket that belongs to no datagram of this run; written by its receive loop only.</summary>
internal sealed class ArrivalCounters
{
    public long Short, BadHeader, BadLength, BadChecksum, Stale, ForeignSource;

    public long Corrupted => Short + BadHeader + BadLength + BadChecksum;

    public void Add(ArrivalCounters other)
    {
        Short += other.Short;
        BadHeader += other.BadHeader;
        BadLength += other.BadLength;
        BadChecksum += other.BadChecksum;
        Stale += other.Stale;
        ForeignSource += other.ForeignSource;
    }
}
