using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Akka.Configuration;
using TunnelActors.Auth;
using TunnelActors.Configuration;
using TunnelActors.Tools;

namespace TunnelActors.Tools.Demo;

/// <summary>
/// Both sides of the seed deployment in one process on loopback: the NAT side (UDP listen + TCP listen),
/// the relay side (TCP connect + UDP forward), a UDP echo server as the target and several clients, each on
/// its own phantom port. Every echo must come back to the socket that sent it, intact.
/// </summary>
public static class LoopbackDemo
{
    public sealed record PeerResult(int Port, int Sent, int Received, long Bytes, double MedianRttMicroseconds, string? Error);

    /// <param name="PeakWorkingSet">The process's peak resident memory, both sides and the clients together.</param>
    public sealed record Result(IReadOnlyList<PeerResult> Peers, TimeSpan Elapsed, long PeakWorkingSet)
    {
        public bool Success => Peers.All(p => p.Error is null && p.Received == p.Sent);
        public int Datagrams => Peers.Sum(p => p.Received);
        public double DatagramsPerSecond => Datagrams / Elapsed.TotalSeconds;
    }

    /// <summary>The configuration <c>tunnelactors demo</c> runs both sides with.</summary>
    public static string EmbeddedHocon { get; } = Embedded("TunnelActors.loopback-demo.hocon");

    private static string Embedded(string name)
    {
        using var stream = typeof(LoopbackDemo).Assembly.GetManifestResourceStream(name)
                           ?? throw new InvalidOperationException($"resource {name} is missing from the build");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    public static async Task<Result> RunAsync(string hocon, CancellationToken cancellation = default)
    {
        var file = ConfigurationFactory.ParseString(hocon);
        var demo = file.GetConfig("demo");
        var peers = demo.GetInt("peers", 8);
        var perPeer = demo.GetInt("datagrams-per-peer", 200);
        var sizes = demo.GetIntList("sizes").Select(s => Math.Max(8, s)).ToArray();
        var replyTimeout = demo.GetTimeSpan("reply-timeout", TimeSpan.FromSeconds(5));

        // Both sides prove a key made for this run, as a deployed NAT box and relay do.
        var keyFile = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(keyFile, PreSharedKey.Generate(), cancellation);
            var key = new Dictionary<string, string> { ["tunnel.auth.psk-file"] = keyFile };
            return await RunSidesAsync(hocon, demo, key, peers, perPeer, sizes, replyTimeout, cancellation);
        }
        finally
        {
            File.Delete(keyFile);
        }
    }

    private static async Task<Result> RunSidesAsync(string hocon, Config demo, Dictionary<string, string> key, int peers, int perPeer,
        int[] sizes, TimeSpan replyTimeout, CancellationToken cancellation)
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        await using var nat = await TunnelSide.StartAsync("nat", TunnelConfiguration.FromHocon(hocon, key));

        var relayOverrides = new Dictionary<string, string>(key)
        {
            ["tunnel.tcp.connect"] = nat.TcpEndpoint.ToString(),
            ["tunnel.udp.forward"] = echo.LocalEndPoint.ToString(),
        };
        var relayHocon = demo.HasPath("relay") ? demo.GetConfig("relay").ToString(includeFallback: true) : "";
        await using var relay = await TunnelSide.StartAsync("relay", TunnelConfiguration.FromHocon(relayHocon, relayOverrides));

        var clock = Stopwatch.StartNew();
        var results = await Task.WhenAll(Enumerable.Range(0, peers)
            .Select(id => RunPeerAsync(id, nat.UdpEndpoint, perPeer, sizes, replyTimeout, cancellation)));
        clock.Stop();
        using var process = Process.GetCurrentProcess();
        return new Result(results, clock.Elapsed, process.PeakWorkingSet64);
    }

    private static async Task<PeerResult> RunPeerAsync(int id, IPEndPoint tunnel, int count, int[] sizes, TimeSpan timeout, CancellationToken cancellation)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        var receive = new byte[65536];
        var rtts = new List<double>(count);
        long bytes = 0;
        for (var seq = 0; seq < count; seq++)
        {
            var payload = new byte[sizes[seq % sizes.Length]];
            Random.Shared.NextBytes(payload);
            BinaryPrimitives.WriteInt32BigEndian(payload, id);
            BinaryPrimitives.WriteInt32BigEndian(payload.AsSpan(4), seq);

            var sent = Stopwatch.GetTimestamp();
            await socket.SendToAsync(payload, tunnel, cancellation);
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            wait.CancelAfter(timeout);
            int length;
            try
            {
                var reply = await socket.ReceiveFromAsync(receive, new IPEndPoint(IPAddress.Any, 0), wait.Token);
                length = reply.ReceivedBytes;
            }
            catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
            {
                return new PeerResult(port, count, seq, bytes, Median(rtts), $"no echo for datagram {seq} within {timeout.TotalSeconds:0.#} s");
            }
            rtts.Add(Stopwatch.GetElapsedTime(sent).TotalMicroseconds);
            if (!receive.AsSpan(0, length).SequenceEqual(payload))
                return new PeerResult(port, count, seq, bytes, Median(rtts), $"datagram {seq} came back altered or from another peer");
            bytes += length;
        }
        return new PeerResult(port, count, count, bytes, Median(rtts), null);
    }

    private static double Median(List<double> values)
    {
        if (values.Count == 0) return double.NaN;
        values.Sort();
        return values[values.Count / 2];
    }
}
