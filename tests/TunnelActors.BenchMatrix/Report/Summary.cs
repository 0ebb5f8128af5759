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

    public static IReadOnlyList<Summary> Of(IEnumerable<RunResult> results) =>
        results.GroupBy(r => (Configuration: new Configuration(r.Peers, r.Size, r.Rate), r.Path))
            .Select(g => new Summary(g.Key.Configuration, g.Key.Path, g.ToList()))
            .ToList();

    private double? Median(Func<RunResult, double?> value)
    {
        var values = Runs.Select(value).OfType<double>().Order().ToArray();
        if (values.Length == 0) return null;
        var middle = values.Length / 2;
        return values.Length % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
    }
}
