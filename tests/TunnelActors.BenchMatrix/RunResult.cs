using System.Text.Json.Nodes;
using TunnelActors.BenchMatrix.Paths;

namespace TunnelActors.BenchMatrix;

/// <summary>
/// One measured run: the load's JSON line (udpbench's field names) and the relay processes' CPU and peak memory.
/// </summary>
/// <param name="RelayCpuSeconds">Both relay sides, from just before the load started until it exited; null for the direct path.</param>
/// <param name="RssSide1Kib">Peak RSS of the side the load talks to (UDP listen).</param>
/// <param name="RssSide2Kib">Peak RSS of the side next to the echo.</param>
/// <param name="ThreadCpuSeconds">Side 1's and side 2's CPU seconds over the same time, by thread name; null for the direct path.</param>
internal sealed record RunResult(
    RelayPath Path, int Repetition, int Peers, int Size, string Rate, JsonObject Load,
    double WallSeconds, double? RelayCpuSeconds, long? RssSide1Kib, long? RssSide2Kib,
    IReadOnlyList<Dictionary<string, double>>? ThreadCpuSeconds = null)
{
    public double RxPerSecond => Number("rx_pps");
    public double Lost => Number("lost");
    public double LossPercent => Number("loss_pct");
    public double Misdelivered => Number("misdelivered");
    public double P50 => Latency("p50");
    public double P99 => Latency("p99");

    /// <summary>Relay CPU (both sides) per round trip, warm-up included as the CPU time is; null for the direct path.</summary>
    public double? RelayCpuMicrosecondsPerDatagram =>
        RelayCpuSeconds is { } cpu && Number("sent_all") > 0 ? cpu * 1e6 / Number("sent_all") : null;

    private double Number(string field) => Load[field]!.GetValue<double>();
    private double Latency(string field) => Load["lat_us"]![field]!.GetValue<double>();

    /// <summary>One line of results.jsonl: the load's fields plus the run's, as udpbench's summarize.py reads them.</summary>
    public string ToJsonLine(double measuredSeconds)
    {
        var line = new JsonObject
        {
            ["scenario"] = Path.Name(),
            ["rep"] = Repetition,
            ["relay_cpu_pct"] = RelayCpuSeconds is { } cpu ? Math.Round(100 * cpu / measuredSeconds, 1) : null,
            ["relay_cpu_s"] = RelayCpuSeconds is { } s ? Math.Round(s, 2) : null,
            ["rss_client_kb"] = RssSide1Kib,
            ["rss_server_kb"] = RssSide2Kib,
            ["wall_s"] = Math.Round(WallSeconds, 3),
            ["relay_threads_cpu_s"] = ThreadCpuSeconds is null ? null
                : new JsonArray(ThreadCpuSeconds.Select(side => (JsonNode)new JsonObject(side.Where(t => t.Value > 0)
                    .Select(t => KeyValuePair.Create(t.Key, (JsonNode?)Math.Round(t.Value, 2))))).ToArray()),
        };
        foreach (var (key, value) in Load) line[key] = value?.DeepClone();
        return line.ToJsonString();
    }
}
