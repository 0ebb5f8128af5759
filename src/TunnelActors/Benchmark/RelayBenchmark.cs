using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using TunnelActors.Demo;

namespace TunnelActors.Benchmark;

/// <summary>
/// The relay against the direct path, side by side in one process: the same clients echo through both
/// sides of the tunnel (seed orientation, loopback) and straight to the echo server, alternating, several
/// runs. Reported as ratios and medians, which a shared, noisy machine keeps comparable.
/// </summary>
public static class RelayBenchmark
{
    public sealed record Options(int Peers = 8, int Window = 8, int Size = 1200, TimeSpan? Duration = null, int Runs = 5)
    {
        public TimeSpan Phase => Duration ?? TimeSpan.FromSeconds(2);
    }

    /// <summary>One path measured once: echoes per second, round-trip median, datagrams that never came back.</summary>
    public sealed record Sample(double EchoesPerSecond, double MedianRttMicroseconds, long Lost);

    public sealed record Run(Sample Direct, Sample Relay)
    {
        public double ThroughputRatio => Relay.EchoesPerSecond / Direct.EchoesPerSecond;
        public double RttRatio => Relay.MedianRttMicroseconds / Direct.MedianRttMicroseconds;
    }

    public sealed record Result(IReadOnlyList<Run> Runs, long PeakWorkingSet)
    {
        public double MedianThroughputRatio => Median(Runs.Select(r => r.ThroughputRatio));
        public double MedianRttRatio => Median(Runs.Select(r => r.RttRatio));
        public double MedianRelayEchoesPerSecond => Median(Runs.Select(r => r.Relay.EchoesPerSecond));
        public double MedianDirectEchoesPerSecond => Median(Runs.Select(r => r.Direct.EchoesPerSecond));
    }

    public static async Task<Result> RunAsync(Options options, Action<Run>? progress = null, CancellationToken cancellation = default)
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        await using var nat = await TunnelSide.StartAsync("nat", TunnelConfiguration.FromHocon("""
            tunnel { udp.listen = "127.0.0.1:0", tcp.listen = "127.0.0.1:0" }
            """));
        await using var relay = await TunnelSide.StartAsync("relay", TunnelConfiguration.FromHocon("", new Dictionary<string, string>
        {
            ["tunnel.tcp.connect"] = nat.TcpEndpoint.ToString(),
            ["tunnel.udp.forward"] = echo.LocalEndPoint.ToString(),
            ["tunnel.tcp.pool-size"] = options.Peers.ToString(),
        }));

        // Warm both paths up (JIT, pooled connections) before anything is measured.
        await MeasureAsync(echo.LocalEndPoint, options with { Duration = TimeSpan.FromMilliseconds(500) }, cancellation);
        await MeasureAsync(nat.UdpEndpoint, options with { Duration = TimeSpan.FromMilliseconds(500) }, cancellation);

        var runs = new List<Run>();
        for (var i = 0; i < options.Runs; i++)
        {
            var run = new Run(
                await MeasureAsync(echo.LocalEndPoint, options, cancellation),
                await MeasureAsync(nat.UdpEndpoint, options, cancellation));
            runs.Add(run);
            progress?.Invoke(run);
        }
        using var process = Process.GetCurrentProcess();
        return new Result(runs, process.PeakWorkingSet64);
    }

    private static async Task<Sample> MeasureAsync(IPEndPoint target, Options options, CancellationToken cancellation)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        stop.CancelAfter(options.Phase);
        var clock = Stopwatch.StartNew();
        var peers = await Task.WhenAll(Enumerable.Range(0, options.Peers).Select(_ => PeerAsync(target, options, stop.Token)));
        var elapsed = clock.Elapsed.TotalSeconds;
        var rtts = peers.SelectMany(p => p.Rtts).ToList();
        return new Sample(peers.Sum(p => p.Echoes) / elapsed, Median(rtts), peers.Sum(p => p.Lost));
    }

    private sealed record PeerCount(long Echoes, long Lost, List<double> Rtts);

    /// <summary>Keeps <c>Window</c> datagrams in flight; each carries its send time, so every echo yields a round trip.</summary>
    private static async Task<PeerCount> PeerAsync(IPEndPoint target, Options options, CancellationToken stop)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var payload = new byte[Math.Max(8, options.Size)];
        var buffer = new byte[65536];
        var rtts = new List<double>();
        long echoes = 0, lost = 0;

        async Task SendAsync()
        {
            BitConverter.TryWriteBytes(payload, Stopwatch.GetTimestamp());
            await socket.SendToAsync(payload, target);
        }

        for (var i = 0; i < options.Window; i++) await SendAsync();
        while (!stop.IsCancellationRequested)
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(stop);
            wait.CancelAfter(TimeSpan.FromMilliseconds(200));
            try
            {
                var received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), wait.Token);
                if (received.ReceivedBytes >= 8)
                {
                    rtts.Add(Stopwatch.GetElapsedTime(BitConverter.ToInt64(buffer)).TotalMicroseconds);
                    echoes++;
                }
            }
            catch (OperationCanceledException)
            {
                if (stop.IsCancellationRequested) break;
                lost++; // a datagram of the window never came back: replace it
            }
            await SendAsync();
        }
        return new PeerCount(echoes, lost, rtts);
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted[sorted.Length / 2];
    }
}
