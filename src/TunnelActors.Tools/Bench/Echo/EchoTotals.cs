namespace TunnelActors.Tools.Bench.Echo;

/// <param name="Holding">A datagram was still held back (swap) when the echo stopped: it was never sent.</param>
internal sealed record EchoTotals(
    long Received, long Sent, long Bytes, long SendFailed,
    long Dropped, long Duplicated, long Corrupted, long Delayed, bool Holding)
{
    public override string ToString() =>
        $"received {Received} sent {Sent} bytes {Bytes} send-failed {SendFailed}" +
        $"; faults: dropped {Dropped} duplicated {Duplicated} corrupted {Corrupted} delayed-by-one {Delayed}" +
        $" (held back at exit: {(Holding ? 1 : 0)})";
}
