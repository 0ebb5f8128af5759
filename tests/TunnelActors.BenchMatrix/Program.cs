using System.CommandLine;
using System.Globalization;
using TunnelActors.BenchMatrix;
using TunnelActors.BenchMatrix.Paths;
using TunnelActors.BenchMatrix.Report;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

var full = MatrixOptions.Full;
var tunnelActors = new Option<FileInfo>("--tunnelactors") { Description = "the published tunnelactors.dll", Required = true };
var cRelay = new Option<FileInfo?>("--c-relay") { Description = "udpbench's binary, for the C relay path (1 peer only)" };
var duration = new Option<double>("--duration") { Description = "seconds measured per run", DefaultValueFactory = _ => full.DurationSeconds };
var warmup = new Option<double>("--warmup") { Description = "seconds of warm-up per run", DefaultValueFactory = _ => full.WarmupSeconds };
var reps = new Option<int>("--reps") { Description = "repetitions; the report gives medians", DefaultValueFactory = _ => full.Repetitions };
var peers = new Option<string>("--peers") { Description = "comma-separated peer counts", DefaultValueFactory = _ => string.Join(',', full.Peers) };
var sizes = new Option<string>("--sizes") { Description = "comma-separated datagram sizes", DefaultValueFactory = _ => string.Join(',', full.Sizes) };
var rates = new Option<string>("--rates") { Description = "comma-separated rates: max or datagrams/s", DefaultValueFactory = _ => string.Join(',', full.Rates) };
var paths = new Option<string>("--paths") { Description = "comma-separated paths", DefaultValueFactory = _ => string.Join(',', full.Paths.Select(p => p.Name())) };
var report = new Option<FileInfo>("--report") { Description = "the markdown report to write", DefaultValueFactory = _ => new FileInfo("docs/benchmarks.md") };
var results = new Option<DirectoryInfo>("--results") { Description = "where raw results and logs go", DefaultValueFactory = _ => new DirectoryInfo("artifacts/bench") };
var reproduce = new Option<string?>("--reproduce") { Description = "the command line to print as the way to reproduce the report" };

var root = new RootCommand("Runs the side-by-side benchmark matrix (build.ps1 bench) and writes the report.")
{
    tunnelActors, cRelay, duration, warmup, reps, peers, sizes, rates, paths, report, results, reproduce,
};
root.SetAction(async (parsed, cancellation) =>
{
    static IReadOnlyList<string> List(string text) => text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    var options = new MatrixOptions
    {
        DurationSeconds = parsed.GetValue(duration),
        WarmupSeconds = parsed.GetValue(warmup),
        Repetitions = parsed.GetValue(reps),
        Peers = List(parsed.GetValue(peers)!).Select(int.Parse).ToList(),
        Sizes = List(parsed.GetValue(sizes)!).Select(int.Parse).ToList(),
        Rates = List(parsed.GetValue(rates)!),
        Paths = List(parsed.GetValue(paths)!).Select(RelayPaths.Parse).ToList(),
    };
    var dll = parsed.GetValue(tunnelActors)!.FullName;
    var relay = parsed.GetValue(cRelay)?.FullName;
    var runDirectory = Path.Combine(parsed.GetValue(results)!.FullName, DateTime.UtcNow.ToString("yyyyMMdd-HHmmss"));
    Directory.CreateDirectory(runDirectory);

    using var psk = PreSharedKey.CreateIfAsked(dll);
    var tools = new Tools(dll, relay, psk?.Path);
    await using var log = new StreamWriter(Path.Combine(runDirectory, "processes.log")) { AutoFlush = true };
    Console.WriteLine($"benchmark matrix: {MarkdownReport.Parameters(options)}");
    Console.WriteLine($"results and logs: {runDirectory}");
    var runner = new MatrixRunner(options, tools, Path.Combine(runDirectory, "results.jsonl"), log);
    var expected = runner.Plan().Count;
    var runs = await runner.RunAsync(cancellation);

    var summaries = Summary.Of(runs);
    var reportFile = parsed.GetValue(report)!;
    var stem = Path.GetFileNameWithoutExtension(reportFile.Name);
    var throughputChart = $"{stem}-throughput.svg";
    var p99Chart = $"{stem}-p99.svg";
    Charts.Throughput(summaries, Path.Combine(reportFile.DirectoryName!, throughputChart));
    Charts.P99(summaries, Path.Combine(reportFile.DirectoryName!, p99Chart));
    var command = parsed.GetValue(reproduce) ?? $"dotnet {string.Join(' ', Environment.GetCommandLineArgs())}";
    // The raw results travel with the report, so that its figures can be checked and recomputed.
    var resultsCopy = $"{stem}-results.jsonl";
    var resultsFile = Path.Combine(runDirectory, "results.jsonl");
    if (File.Exists(resultsFile)) File.Copy(resultsFile, Path.Combine(reportFile.DirectoryName!, resultsCopy), overwrite: true);
    var shownResults = Path.GetRelativePath(Environment.CurrentDirectory, runDirectory);
    await File.WriteAllTextAsync(reportFile.FullName, MarkdownReport.Write(options, Machine.Describe(tools), summaries, command, resultsCopy, shownResults,
        throughputChart, p99Chart, expected - runs.Count, cRelayMissing: relay is null && options.Paths.Contains(RelayPath.CRelay)), cancellation);
    Console.WriteLine($"wrote {reportFile.FullName}, {throughputChart}, {p99Chart}, {resultsCopy}");
    return runs.Count == expected ? 0 : 1;
});
// Ctrl+C or SIGTERM cancels: the run in progress stops and every process it started is stopped by its PID.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(15) });
