namespace TunnelActors.Tools.Bench.Echo;

/// <summary>
/// Which faults the echo injects into its k-th datagram (k from 1), at exact intervals (0 = never): drop it,
/// flip its last byte, hold it back until the next one has been sent (delay by one), or send it twice.
/// </summary>
internal sealed class FaultInjector(int dropEvery, int duplicateEvery, int corruptEvery, int swapEvery)
{
    private long _k;

    public bool Active => dropEvery > 0 || duplicateEvery > 0 || corruptEvery > 0 || swapEvery > 0;

    public long Dropped { get; private set; }
    public long Duplicated { get; private set; }
    public long Corrupted { get; private set; }
    public long Delayed { get; private set; }

    [Flags]
    public enum Fault { None = 0, Drop = 1, Corrupt = 2, Hold = 4, Duplicate = 8 }

    /// <summary>The faults for the next datagram. A dropped or held datagram gets no other fault after that.</summary>
    /// <param name="canHold">False while an earlier datagram is still held back.</param>
    public Fault Next(int length, bool canHold)
    {
        _k++;
        if (Due(dropEvery))
        {
            Dropped++;
            return Fault.Drop;
        }
        var fault = Fault.None;
        if (Due(corruptEvery) && length > 0)
        {
            Corrupted++;
            fault |= Fault.Corrupt;
        }
        if (Due(swapEvery) && canHold)
        {
            Delayed++;
            return fault | Fault.Hold;
        }
        if (Due(duplicateEvery))
        {
            Duplicated++;
            fault |= Fault.Duplicate;
        }
        return fault;
    }

    private bool Due(int every) => every > 0 && _k % every == 0;
}
