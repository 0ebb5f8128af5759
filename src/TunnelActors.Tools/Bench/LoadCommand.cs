using System.CommandLine;
using System.Net.Sockets;
using TunnelActors.Tools.Bench.Load;

namespace TunnelActors.Tools.Bench;

/// <summary><c>tunnelactors bench load</c>: phantom peers against a target, one report at the end.</summary>
internal static class LoadCommand
{
    public static Command Build()
    {
        var target = BenchOptions.Endpoint("--target", "where to send: an echo, or the UDP listen side of a relay in front of one", required: true);
        var peers = BenchOptions.Integer("--peers", "phantom peers, each its own UDP socket with its own source port", 1, 1, 20000, "K");
        var size = BenchOptions.Integer("--size", $"datagram size in bytes (the first {DatagramHeader.Size} are the header)", 64,
            LoadOptions.MinSize, LoadOptions.MaxSize, "B");
        var rate = BenchOptions.Rate();
        var window = BenchOptions.Integer("--window", "closed loop: datagrams each peer keeps outstanding", 32, 1, 65536, "W");
        var duration = BenchOptions.Seconds("--duration", "seconds measured", 5, zeroAllowed: false);
        var warmup = BenchOptions.Seconds("--warmup", "seconds of load before the measurement starts, not counted", 1, zeroAllowed: true);
        var timeout = BenchOptions.Integer("--timeout", "closed loop: milliseconds after which an unanswered datagram frees its window slot", 200, 1, 600_000, "MS");
        var drain = BenchOptions.Integer("--drain", "milliseconds to wait for late replies after the measurement (ends once all are back)", 1000, 0, 600_000, "MS");
        var bind = BenchOptions.Endpoint("--bind", "local address of the peers; with a port P, peer i binds P+i (default: any address, ephemeral ports)",
            portOptional: true);
        var reuse = new Option<bool>("--reuse-address") { Description = "set SO_REUSEADDR on the peers' sockets (to share ports with udptunnel)" };
        var json = new Option<bool>("--json") { Description = "also print one JSON line on stdout (udpbench's field names); the summary goes to stderr" };
        var quiet = new Option<bool>("--quiet") { Description = "no live progress line and no human summary" };
        var command = new Command("load",
            "Send numbered, timestamped, checksummed datagrams from K phantom peers and check every reply: " +
            "sent, received, lost, duplicated, reordered, corrupted, misdelivered (a reply on another peer's socket), datagrams/s and round-trip percentiles.")
        {
            target, peers, size, rate, window, duration, warmup, timeout, drain, bind, reuse, json, quiet,
        };
        command.SetAction((result, cancellation) => RunAsync(new LoadOptions(result.GetValue(target)!)
        {
            Peers = result.GetValue(peers),
            Size = result.GetValue(size),
            Rate = result.GetValue(rate) is > 0 and var pps ? pps : null,
            Window = result.GetValue(window),
            Duration = TimeSpan.FromSeconds(result.GetValue(duration)),
            Warmup = TimeSpan.FromSeconds(result.GetValue(warmup)),
            Timeout = TimeSpan.FromMilliseconds(result.GetValue(timeout)),
            Drain = TimeSpan.FromMilliseconds(result.GetValue(drain)),
            Bind = result.GetValue(bind),
            ReuseAddress = result.GetValue(reuse),
        }, result.GetValue(json), result.GetValue(quiet), cancellation));
        return command;
    }

    private static async Task<int> RunAsync(LoadOptions options, bool json, bool quiet, CancellationToken cancellation)
    {
        using var signals = new TerminationSignals(cancellation); // an interrupted run still reports what it measured
        var progress = quiet || Console.IsErrorRedirected ? null : new ProgressLine(Console.Error, options);
        LoadReport report;
        try
        {
            report = await LoadGenerator.RunAsync(options, progress is null ? null : progress.Show, signals.Token);
        }
        catch (SocketException e)
        {
            await Console.Error.WriteLineAsync($"tunnelactors bench load: cannot set up the peers' sockets: {e.Message}");
            return 2;
        }
        finally
        {
            progress?.Clear();
        }
        if (!quiet) await (json ? Console.Error : Console.Out).WriteLineAsync(LoadReportWriter.Summary(report));
        if (json) await Console.Out.WriteLineAsync(LoadReportWriter.JsonLine(report));
        return 0;
    }
}
