using Serilog;
using Serilog.Events;
using TunnelActors.Configuration;
using TunnelActors.Hosting;
using TunnelActors.Tools;

namespace TunnelActors.Tools.Demo;

/// <summary><c>tunnelactors demo</c>: the embedded default, printed as one line per phantom peer.</summary>
internal static class DemoCommand
{
    public static async Task<int> RunAsync(LogEventLevel level, CancellationToken cancellation)
    {
        TunnelHost.ConfigureLogging(level);
        try
        {
            var result = await LoopbackDemo.RunAsync(LoopbackDemo.EmbeddedHocon, cancellation);
            Console.WriteLine();
            Console.WriteLine("peer (phantom port)   sent  echoed      bytes  median RTT");
            foreach (var peer in result.Peers)
            {
                Console.WriteLine($"127.0.0.1:{peer.Port,-9} {peer.Sent,7} {peer.Received,7} {peer.Bytes,10} {peer.MedianRttMicroseconds,8:0} µs" +
                                  (peer.Error is null ? "" : $"  FAILED: {peer.Error}"));
            }
            Console.WriteLine($"{result.Peers.Count} peers, {result.Datagrams} datagrams echoed through both sides in " +
                              $"{result.Elapsed.TotalSeconds:0.00} s ({result.DatagramsPerSecond:0} round trips/s, one at a time per peer)");
            Console.WriteLine($"peak memory of the whole process (both sides, echo server, clients): {result.PeakWorkingSet / (1024.0 * 1024):0} MiB");
            Console.WriteLine(result.Success ? "OK: every reply reached the peer that sent it" : "FAILED: some replies were lost or misrouted");
            return result.Success ? 0 : 1;
        }
        catch (Exception e) when (e is TunnelStartException or ConfigurationException)
        {
            await Console.Error.WriteLineAsync($"tunnelactors: demo cannot start: {e.Message}");
            return 2;
        }
        finally
        {
            await Log.CloseAndFlushAsync();
        }
    }
}
