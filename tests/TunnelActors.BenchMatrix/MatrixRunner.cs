using System.Diagnostics;
using System.Globalization;
using TunnelActors.BenchMatrix.Paths;
using TunnelActors.BenchMatrix.Processes;

namespace TunnelActors.BenchMatrix;

/// <summary>
/// Every path for every configuration, interleaved (repetition → peers → size → rate → path) so that all paths
/// see the same machine conditions; fresh processes for every run.
/// </summary>
internal sealed class MatrixRunner(MatrixOptions options, Tools tools, string resultsFile, TextWriter log)
{
    public async Task<IReadOnlyList<RunResult>> RunAsync(CancellationToken cancellation)
    {
        var launcher = new PathLauncher(tools, log);
        var load = new LoadRunner(tools, options);
        var results = new List<RunResult>();
        var paths = options.Paths.Where(p => p != RelayPath.CRelay || tools.CRelay is not null).ToList();
        var total = options.Repetitions * options.Peers.Count * options.Sizes.Count * options.Rates.Count * paths.Count;
        var number = 0;
        for (var rep = 1; rep <= options.Repetitions; rep++)
        foreach (var peers in options.Peers)
        foreach (var size in options.Sizes)
        foreach (var rate in options.Rates)
        foreach (var path in paths)
        {
            number++;
            if (!path.Serves(peers)) continue;
            cancellation.ThrowIfCancellationRequested();
            var label = $"[{number}/{total}] rep {rep} peers {peers} size {size} rate {rate} {path.Name()}";
            lock (log) log.WriteLine($"=== {label}");
            try
            {
                var result = await RunOnceAsync(launcher, load, path, rep, peers, size, rate);
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

    private static async Task<RunResult> RunOnceAsync(PathLauncher launcher, LoadRunner load, RelayPath path, int rep, int peers, int size, string rate)
    {
        await using var running = await launcher.StartAsync(path, peers);
        var relays = new[] { running.Side1, running.Side2 }.OfType<ChildProcess>().ToList();
        var cpuBefore = relays.Sum(r => ProcFs.CpuSeconds(r.Pid));
        var clock = Stopwatch.StartNew();
        var json = await load.RunAsync(running, peers, size, rate);
        var wall = clock.Elapsed.TotalSeconds;
        var cpu = relays.Count == 0 ? (double?)null : relays.Sum(r => ProcFs.CpuSeconds(r.Pid)) - cpuBefore;
        foreach (var relay in relays)
            if (relay.HasExited) throw new InvalidOperationException($"{relay.Name} exited during the run");
        return new RunResult(path, rep, peers, size, rate, json, wall, cpu,
            running.Side1 is { } side1 ? ProcFs.PeakRssKib(side1.Pid) : null,
            running.Side2 is { } side2 ? ProcFs.PeakRssKib(side2.Pid) : null);
    }
}
