using System.Diagnostics;
using System.Globalization;
using TunnelActors.BenchMatrix.Paths;
using TunnelActors.BenchMatrix.Processes;

namespace TunnelActors.BenchMatrix;

/// <summary>
/// Every path for every configuration, interleaved (repetition → peers → size → rate → path) so that all paths
/// see the same machine conditions; fresh processes for every run. A run that fails is reported and skipped.
/// </summary>
internal sealed class MatrixRunner(MatrixOptions options, Tools tools, string resultsFile, TextWriter log)
{
    public readonly record struct PlannedRun(int Repetition, int Peers, int Size, string Rate, RelayPath Path);

    /// <summary>The runs in the order they run; the C relay only with one peer and only when its binary was given.</summary>
    public IReadOnlyList<PlannedRun> Plan() =>
        (from rep in Enumerable.Range(1, options.Repetitions)
         from peers in options.Peers
         from size in options.Sizes
         from rate in options.Rates
         from path in options.Paths
         where path.Serves(peers) && (path != RelayPath.CRelay || tools.CRelay is not null)
         select new PlannedRun(rep, peers, size, rate, path)).ToList();

    public async Task<IReadOnlyList<RunResult>> RunAsync(CancellationToken cancellation)
    {
        var launcher = new PathLauncher(tools, log);
        var load = new LoadRunner(tools, options);
        var results = new List<RunResult>();
        var plan = Plan();
        foreach (var (run, number) in plan.Select((r, i) => (r, i + 1)))
        {
            var (rep, peers, size, rate, path) = run;
            cancellation.ThrowIfCancellationRequested();
            var label = $"[{number}/{plan.Count}] rep {rep} peers {peers} size {size} rate {rate} {path.Name()}";
            lock (log) log.WriteLine($"=== {label}");
            try
            {
                var result = await RunOnceAsync(launcher, load, run, cancellation);
                results.Add(result);
                await File.AppendAllTextAsync(resultsFile, result.ToJsonLine(options.WarmupSeconds + options.DurationSeconds) + "\n", cancellation);
                var relayCpu = result.RelayCpuMicrosecondsPerDatagram is { } cpu ? string.Create(CultureInfo.InvariantCulture, $" relay {cpu,6:0.0} µs/dgram") : "";
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{label,-60} rx {result.RxPerSecond,9:0}/s lost {result.Lost,7:0} misdelivered {result.Misdelivered,7:0} p50 {result.P50,9:0.0} p99 {result.P99,9:0.0} µs{relayCpu}"));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Console.WriteLine($"{label,-60} FAILED: {e.Message}");
                lock (log) log.WriteLine($"FAILED {label}: {e}");
            }
        }
        return results;
    }

    private static async Task<RunResult> RunOnceAsync(PathLauncher launcher, LoadRunner load, PlannedRun run, CancellationToken cancellation)
    {
        var (rep, peers, size, rate, path) = run;
        await using var running = await launcher.StartAsync(path, peers);
        var relays = new[] { running.Side1, running.Side2 }.OfType<ChildProcess>().ToList();
        var cpuBefore = relays.Sum(r => ProcFs.CpuSeconds(r.Pid));
        var threadsBefore = relays.Select(r => ProcFs.ThreadCpuSeconds(r.Pid)).ToList();
        var clock = Stopwatch.StartNew();
        var json = await load.RunAsync(running, peers, size, rate, cancellation);
        var wall = clock.Elapsed.TotalSeconds;
        var cpu = relays.Count == 0 ? (double?)null : relays.Sum(r => ProcFs.CpuSeconds(r.Pid)) - cpuBefore;
        var threads = relays.Select((r, i) => ProcFs.ThreadCpuSeconds(r.Pid)
            .ToDictionary(t => t.Key, t => t.Value - threadsBefore[i].GetValueOrDefault(t.Key))).ToList();
        foreach (var relay in relays)
            if (relay.HasExited) throw new InvalidOperationException($"{relay.Name} exited during the run");
        return new RunResult(path, rep, peers, size, rate, json, wall, cpu,
            running.Side1 is { } side1 ? ProcFs.PeakRssKib(side1.Pid) : null,
            running.Side2 is { } side2 ? ProcFs.PeakRssKib(side2.Pid) : null,
            threads.Count == 2 ? threads : null);
    }
}
