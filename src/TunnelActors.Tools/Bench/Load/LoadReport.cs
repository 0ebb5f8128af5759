namespace TunnelActors.Tools.Bench.Load;

/// <summary>What one load run measured. Counts cover datagrams sent during the measurement unless named "All".</summary>
internal sealed record LoadReport(
    LoadOptions Options,
    double MeasuredSeconds,
    bool Interrupted,
    long Sent,
    long Received,
    long Duplicated,
    long Reordered,
    long Misdelivered,
    long TxFail,
    long WindowExpired,
    long SentAll,
    long ReceivedAll,
    ArrivalCounters Arrivals,
    Latency RttMicroseconds)
{
    public long Lost => Math.Max(0, Sent - Received);
    public double LossPercent => Sent == 0 ? 0 : 100.0 * Lost / Sent;
    public long Corrupted => Arrivals.Corrupted;
    public double TxPerSecond => Sent / MeasuredSeconds;
    public double RxPerSecond => Received / MeasuredSeconds;

    /// <summary>Payload bits of the received datagrams (UDP/IP headers excluded), per second, in millions.</summary>
    public double Megabits => RxPerSecond * Options.Size * 8 / 1e6;

    public string RateText => Options.Rate is { } rate ? rate.ToString("0", System.Globalization.CultureInfo.InvariantCulture) : "max";

    /// <summary>The totals over all peers, once their receive loops have stopped.</summary>
    public static LoadReport Collect(LoadOptions options, double measuredSeconds, bool interrupted, IReadOnlyList<Peer> peers, LatencyHistogram rtts)
    {
        var arrivals = new ArrivalCounters();
        foreach (var peer in peers) arrivals.Add(peer.Arrivals);
        long Sum(Func<PeerCounters, long> count) => peers.Sum(p => count(p.Counters));
        return new LoadReport(options, measuredSeconds, interrupted,
            Sum(c => c.Sent), Sum(c => c.Received), Sum(c => c.Duplicated), Sum(c => c.Reordered), Sum(c => c.Misdelivered),
            Sum(c => c.TxFail), Sum(c => c.WindowExpired), peers.Sum(p => p.NextSequence), peers.Sum(p => p.RepliedAll),
            arrivals, Latency.From(rtts));
    }
}

/// <summary>Round-trip percentiles, in microseconds.</summary>
internal sealed record Latency(double P50, double P90, double P99, double P999, double Max, double Mean)
{
    public static Latency From(LatencyHistogram nanoseconds) => new(
        nanoseconds.Percentile(0.50) / 1e3, nanoseconds.Percentile(0.90) / 1e3, nanoseconds.Percentile(0.99) / 1e3,
        nanoseconds.Percentile(0.999) / 1e3, nanoseconds.Max / 1e3, nanoseconds.Mean / 1e3);
}
