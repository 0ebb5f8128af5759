using TunnelActors.BenchMatrix.Paths;

namespace TunnelActors.BenchMatrix.Report;

/// <summary>One configuration of the matrix: how many peers, how large, how fast.</summary>
internal readonly record struct Configuration(int Peers, int Size, string Rate)
{
    public string Title => $"{Peers} peer{(Peers == 1 ? "" : "s")}, {Size} B, " +
                           (Rate == "max" ? $"closed loop (window {MatrixOptions.Window(Peers)} per peer)" : $"open loop {Rate}/s");

    public string Short => $"{Peers}p {Size}B {(Rate == "max" ? "max" : Rate + "/s")}";
}

/// <summary>The medians of one path's runs in one configuration; every figure is the median of its own.</summary>
internal sealed record Summary(Configuration Configuration, RelayPath Path, IReadOnlyList<RunResult> Runs)
{
    public double Rx => Median(r => r.RxPerSecond)!.Value;
    public double RxMin => Runs.Min(r => r.RxPerSecond);
    public double RxMax => Runs.Max(r => r.RxPerSecond);
    public double Lost => Median(r => r.Lost)!.Value;
    public double LossPercent => Median(r => r.LossPercent)!.Value;
    public double Misdelivered => Median(r => r.Misdelivered)!.Value;
    public double P50 => Median(r => r.P50)!.Value;
    public double P99 => Median(r => r.P99)!.Value;
    public double? CpuPerDatagram => Median(r => r.RelayCpuMicrosecondsPerDatagram);
    public double? RssSide1Mib => Median(r => r.RssSide1Kib / 1024.0);
    public double? RssSide2Mib => Median(r => r.RssSide2Kib / 1024.0);

    /// <summary>
    /// Each thread's median share of a side's CPU (side 0: UDP listen, side 1: next to the echo), largest first; threads
    /// under 5 % are left out.
    /// </summary>
    public IReadOnlyList<(string Thread, double Share)> ThreadShares(int side)
    {
        var shares = Runs.Where(r => r.ThreadCpuSeconds is not null).Select(r => r.ThreadCpuSeconds![side])
            .Select(threads => (threads, total: threads.Values.Sum())).Where(t => t.total > 0)
            .Select(t => t.threads.ToDictionary(x => x.Key, x => x.Value / t.total)).ToList();
        return shares.SelectMany(s => s.Keys).Distinct()
            .Select(thread => (thread, share: MedianOf(shares.Select(s => s.GetValueOrDefault(thread)))))
            .Where(t => t.share >= 0.05).OrderByDescending(t => t.share).ToList();
    }

    public static IReadOnlyList<Summary> Of(IEnumerable<RunResult> results) =>
        results.GroupBy(r => (Configuration: new Configuration(r.Peers, r.Size, r.Rate), r.Path))
            .Select(g => new Summary(g.Key.Configuration, g.Key.Path, g.ToList()))
            .ToList();

    private double? Median(Func<RunResult, double?> value)
    {
        var values = Runs.Select(value).OfType<double>().ToArray();
        return values.Length == 0 ? null : MedianOf(values);
    }

    private static double MedianOf(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        var middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }
}
