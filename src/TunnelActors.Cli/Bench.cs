using Serilog;
using Serilog.Events;
using TunnelActors.Benchmark;

namespace TunnelActors.Cli;

/// <summary><c>tunnelactors bench</c>: relay against direct path, printed as ratios and medians.</summary>
internal static class Bench
{
    public static async Task<int> RunAsync(RelayBenchmark.Options options, CancellationToken cancellation)
    {
        TunnelHost.ConfigureLogging(LogEventLevel.Warning);
        try
        {
            Console.WriteLine($"{options.Peers} peers × window {options.Window}, {options.Size}-byte datagrams, " +
                              $"{options.Phase.TotalSeconds:0.#} s per path per run, {options.Runs} runs (direct, then relay)");
            Console.WriteLine("run   direct echoes/s   relay echoes/s   ratio   direct RTT p50   relay RTT p50   ratio   lost (relay)");
            var number = 0;
            var result = await RelayBenchmark.RunAsync(options, run =>
                Console.WriteLine($"{++number,3} {run.Direct.EchoesPerSecond,17:0} {run.Relay.EchoesPerSecond,16:0} {run.ThroughputRatio,7:0.00}" +
                                  $" {run.Direct.MedianRttMicroseconds,13:0} µs {run.Relay.MedianRttMicroseconds,12:0} µs {run.RttRatio,7:0.0} {run.Relay.Lost,12}"),
                cancellation);
            Console.WriteLine($"median: relay {result.MedianRelayEchoesPerSecond:0} echoes/s = {result.MedianThroughputRatio:0.00} × direct " +
                              $"({result.MedianDirectEchoesPerSecond:0}/s); relay RTT = {result.MedianRttRatio:0.0} × direct");
            Console.WriteLine($"peak memory of the whole process: {result.PeakWorkingSet / (1024.0 * 1024):0} MiB");
            return 0;
        }
        catch (TunnelStartException e)
        {
            await Console.Error.WriteLineAsync($"tunnelactors: bench cannot start: {e.Message}");
            return 2;
        }
        finally
        {
            await Log.CloseAndFlushAsync();
        }
    }
}
