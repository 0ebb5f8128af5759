using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using TunnelActors.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using TunnelActors.Auth;
using TunnelActors.Flow;
using TunnelActors.Observability;
using TunnelActors.Tools.Demo;

namespace TunnelActors.Tests.EndToEnd;

/// <summary>
/// Floods and garbage from one loopback address while a legitimate peer on another runs alongside: the side
/// stays up, its limits hold, every hostile connection or datagram is refused or dropped and counted by reason,
/// its memory stays bounded, and the peer loses nothing. Figures go to the test output.
/// </summary>
public sealed class HostileInputTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private static readonly IPAddress Attacker = IPAddress.Parse("127.0.0.3");
    private static readonly IPAddress Vandal = IPAddress.Parse("127.0.0.4");
    private static readonly IPAddress Legitimate = IPAddress.Parse("127.0.0.2");
    private const long MemoryBound = 50 << 20;

    [Fact]
    public async Task Sixty_thousand_phantom_ports_from_one_address_are_capped_and_a_peer_from_another_loses_nothing()
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        await using var server = SideProcess.Start("--tcp-listen", "127.0.0.1:0", "--udp-forward", echo.LocalEndPoint.ToString());
        using var config = new TempFile("tunnel.session.max-per-source = 200");
        await using var client = SideProcess.Start("--udp-listen", "127.0.0.1:0", "--tcp-connect", $"127.0.0.1:{await server.TcpPortAsync()}",
            "--config", config.Path, "--metrics", "127.0.0.1:0");
        var udpPort = await client.UdpPortAsync();
        var tunnel = new IPEndPoint(IPAddress.Loopback, udpPort);
        Assert.Equal(0, await EchoOneAtATimeAsync(Legitimate, tunnel, count: 50));
        var rssBefore = client.ResidentBytes;
        // The side's own listen socket: what the kernel dropped there, not what any other program's sockets dropped.
        var socketDropsBefore = BoundSockets.UdpSocketDrops(client.ProcessId, udpPort);

        int sent, lost;
        long rssPeak;
        int memorySamples;
        await using (var memory = PeakMemory.Start(client))
        {
            var flood = Task.Run(() => SendFromPorts(Attacker, tunnel, count: 60_000, perSecond: 20_000));
            lost = await EchoOneAtATimeAsync(Legitimate, tunnel, count: 1000);
            sent = await flood;
            (rssPeak, memorySamples) = await memory.StopAsync();
        }

        // Every datagram sent to the side (the peer's 1,050 and the flood) is, once the side has read them all, either
        // carried into the tunnel, dropped by the side and counted by reason, or dropped by the kernel on its socket.
        long intoTunnel = 0, dropped = 0, socketDrops = 0;
        var accounted = await BoundSockets.EventuallyAsync(async () =>
        {
            socketDrops = BoundSockets.UdpSocketDrops(client.ProcessId, udpPort) - socketDropsBefore;
            intoTunnel = await client.MetricAsync("datagrams", ("direction", "udp-to-tcp"));
            dropped = await client.MetricAsync("drops");
            return intoTunnel + dropped + socketDrops == 1050 + sent;
        }, Wait, TimeSpan.FromMilliseconds(100));
        var capped = await client.MetricAsync("drops", ("reason", "source-limit"));
        var sessions = await client.MetricAsync("sessions.started");
        output.WriteLine($"{sent} phantom ports sent from {Attacker} at 20,000 a second: {intoTunnel - 1050} carried, refused at the per-source cap {capped}, " +
                         $"other drops {dropped - capped}, dropped by the kernel on the side's socket {socketDrops}; sessions started {sessions}; " +
                         $"resident memory {rssBefore >> 20} MiB, at most {rssPeak >> 20} MiB in {memorySamples} samples; legitimate peer lost {lost} of 1000");
        Assert.Equal(0, lost);
        Assert.True(sent == 60_000, $"only {sent} ports could be bound");
        Assert.True(accounted, $"of {1050 + sent} datagrams, {intoTunnel} carried, {dropped} dropped by the side, {socketDrops} by the kernel: {client.Log}");
        // The peer's two sockets are two sessions; the flood's address gets at most session.max-per-source, one datagram each into the tunnel.
        Assert.InRange(sessions - 2, 1, 200);
        Assert.Equal(sessions - 2, intoTunnel - 1050);
        // Everything else from the flood's address was refused at the cap, but for what the kernel dropped before the side could read it.
        Assert.True(capped >= sent - 200 - socketDrops, $"{capped} refused at the cap of {sent} sent; {socketDrops} dropped by the kernel");
        Assert.True(memorySamples >= 3, $"{memorySamples} memory samples");
        Assert.True(rssPeak - rssBefore < MemoryBound, $"resident memory grew from {rssBefore >> 20} to {rssPeak >> 20} MiB");
    }

    [Fact]
    public async Task Abandoned_connections_garbage_and_stalled_frames_leave_the_process_up_its_memory_bounded_and_a_peer_whole()
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        using var config = new TempFile("tunnel.tcp.first-frame-timeout = 2s");
        await using var server = SideProcess.Start("--tcp-listen", "127.0.0.1:0", "--udp-forward", echo.LocalEndPoint.ToString(),
            "--config", config.Path, "--metrics", "127.0.0.1:0");
        var tcpPort = await server.TcpPortAsync();
        await using var client = await Sides.StartAsync("client", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", $"127.0.0.1:{tcpPort}"));
        await AttackAsync(server, tcpPort, client.UdpEndpoint, SideResources.For(client.System).Links, keyed: false);
    }

    /// <summary>
    /// The same mix against a keyed side, in both roles that listen on TCP: the forward server, and the seed's NAT box
    /// (the attacked side is the one the peer sends to). Connections that never finish the handshake are held to
    /// tcp.max-handshakes-per-source.
    /// </summary>
    [Theory]
    [InlineData("forward server")]
    [InlineData("NAT box")]
    public async Task On_a_keyed_side_abandoned_connections_and_garbage_leave_its_memory_bounded_and_a_peer_whole(string role)
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        using var key = new TempFile(PreSharedKey.Generate());
        using var config = new TempFile("tunnel.tcp.first-frame-timeout = 2s");
        if (role == "NAT box")
        {
            await using var nat = SideProcess.Start("--udp-listen", "127.0.0.1:0", "--tcp-listen", "127.0.0.1:0", "--psk-file", key.Path,
                "--config", config.Path, "--metrics", "127.0.0.1:0");
            var natPort = await nat.TcpPortAsync();
            await using var relay = await Sides.StartAsync("keyed-relay", ("tunnel.tcp.connect", $"127.0.0.1:{natPort}"),
                ("tunnel.udp.forward", echo.LocalEndPoint.ToString()), ("tunnel.auth.psk-file", key.Path));
            await AttackAsync(nat, natPort, new IPEndPoint(IPAddress.Loopback, await nat.UdpPortAsync()), SideResources.For(relay.System).Links, keyed: true);
            return;
        }
        await using var server = SideProcess.Start("--tcp-listen", "127.0.0.1:0", "--udp-forward", echo.LocalEndPoint.ToString(),
            "--psk-file", key.Path, "--config", config.Path, "--metrics", "127.0.0.1:0");
        var tcpPort = await server.TcpPortAsync();
        await using var client = await Sides.StartAsync("keyed-client", ("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", $"127.0.0.1:{tcpPort}"), ("tunnel.auth.psk-file", key.Path));
        await AttackAsync(server, tcpPort, client.UdpEndpoint, SideResources.For(client.System).Links, keyed: true);
    }

    /// <summary>
    /// The TLS front door: 3,000 connections from two addresses that send TLS garbage, half a TLS record, or nothing,
    /// while a peer's 1,000 echoes cross the tunnel: the side stays up, closes every one of them (the TLS handshake
    /// fails, or does not finish within auth.handshake-timeout), grows less than 50 MB, and the peer loses nothing.
    /// </summary>
    [Fact]
    public async Task On_a_tls_side_garbage_half_handshakes_and_silent_connections_leave_its_memory_bounded_and_a_peer_whole()
    {
        using var pki = new TestPki();
        var (cert, key, _) = pki.Issue();
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        await using var server = SideProcess.Start("--tcp-listen", "127.0.0.1:0", "--udp-forward", echo.LocalEndPoint.ToString(),
            "--tls-cert", cert, "--tls-key", key, "--metrics", "127.0.0.1:0");
        var tcpPort = await server.TcpPortAsync();
        await using var client = await Sides.StartAsync("tls-attacked-client", ("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", $"tls://127.0.0.1:{tcpPort}"), ("tunnel.tls.ca-file", pki.CaFile), ("tunnel.tls.server-name", "localhost"));
        // TLS garbage, half of a handshake record's header, or nothing at all.
        await FloodFrontDoorAsync(server, tcpPort, client, i => (i % 3) switch { 0 => RandomNumberGenerator.GetBytes(512), 1 => [0x16, 0x03, 0x01], _ => [] });
    }

    /// <summary>
    /// The WebSocket front door of a keyed side (as behind nginx): 3,000 connections that send garbage, half an upgrade
    /// request, or a whole upgrade with a proof made of random bytes and then nothing: each is answered 404 or closed
    /// after auth.handshake-timeout, the side grows less than 50 MB, and a peer's 1,000 echoes all come back.
    /// </summary>
    [Fact]
    public async Task On_a_websocket_side_garbage_half_upgrades_and_unproven_upgrades_leave_its_memory_bounded_and_a_peer_whole()
    {
        using var key = new TempFile(PreSharedKey.Generate());
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        await using var server = SideProcess.Start("--tcp-listen", "127.0.0.1:0", "--udp-forward", echo.LocalEndPoint.ToString(),
            "--websocket", "/tunnel", "--psk-file", key.Path, "--metrics", "127.0.0.1:0");
        var tcpPort = await server.TcpPortAsync();
        await using var client = await Sides.StartAsync("ws-attacked-client", ("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", $"ws://127.0.0.1:{tcpPort}/tunnel"), ("tunnel.auth.psk-file", key.Path));
        const string upgrade = "GET /tunnel HTTP/1.1\r\nHost: relay\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
                               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
        await FloodFrontDoorAsync(server, tcpPort, client, i => (i % 3) switch
        {
            0 => RandomNumberGenerator.GetBytes(512),
            1 => Encoding.ASCII.GetBytes(upgrade[..40]),
            _ => Encoding.ASCII.GetBytes($"{upgrade}Sec-TunnelActors-Proof: {Convert.ToBase64String(RandomNumberGenerator.GetBytes(76))}\r\n\r\n"),
        });
    }

    /// <summary>
    /// 3,000 connections to <paramref name="server"/>'s front door from two addresses, each sending
    /// <paramref name="hostile"/>(i), while a peer's 1,000 echoes cross <paramref name="client"/>'s tunnel through it: none
    /// lost, the side up, every hostile connection closed by it, and its memory less than 50 MB above where it was.
    /// </summary>
    private async Task FloodFrontDoorAsync(SideProcess server, int tcpPort, TunnelActors.Tools.TunnelSide client, Func<int, byte[]> hostile)
    {
        Assert.Equal(0, await EchoOneAtATimeAsync(Legitimate, client.UdpEndpoint, count: 50));
        var rssBefore = server.ResidentBytes;
        var side = new IPEndPoint(IPAddress.Loopback, tcpPort);
        var connections = new List<TcpClient>();
        try
        {
            int lost;
            (long Bytes, int Count) memory;
            var clock = Stopwatch.StartNew();
            await using (var sampler = PeakMemory.Start(server))
            {
                for (var i = 0; i < 3000; i++)
                {
                    if (await Connections.TryConnectFromAsync(i % 2 == 0 ? Attacker : Vandal, side) is not { } connection) continue;
                    connections.Add(connection);
                    try { await connection.GetStream().WriteAsync(hostile(i)); } catch (IOException) { }
                }
                lost = await EchoOneAtATimeAsync(Legitimate, client.UdpEndpoint, count: 1000);
                memory = await sampler.StopAsync();
            }
            var counts = (await server.MetricsAsync()).Where(m => m.Instrument is "drops" or "datagrams" && m.Value > 0).Select(m => $"{m.Instrument} {string.Join(",", m.Labels.Values)} {m.Value}");
            Assert.True(lost == 0, $"{lost} lost; the side's counts: {string.Join(", ", counts)}; the client's: {SideResources.For(client.System).Counters}");
            Assert.False(server.HasExited, $"the side exited: {server.Log}");
            await Task.WhenAll(connections.Select(c => Connections.ReadUntilClosedAsync(c, Wait)));
            output.WriteLine($"{connections.Count} hostile connections in {clock.Elapsed.TotalSeconds:0.0} s, all closed; RSS {rssBefore >> 20} MiB, " +
                             $"at most {memory.Bytes >> 20} MiB in {memory.Count} samples");
            Assert.True(connections.Count >= 1000, $"only {connections.Count} hostile connections got through connect");
            Assert.True(memory.Count >= 3, $"{memory.Count} memory samples");
            Assert.True(memory.Bytes - rssBefore < MemoryBound, $"RSS grew from {rssBefore >> 20} to {memory.Bytes >> 20} MiB");
        }
        finally
        {
            foreach (var connection in connections) connection.Dispose();
        }
    }

    /// <summary>
    /// Garbage, a stalled half frame and an oversize frame from one address, 3,000 silent connections from another, then a
    /// peer's 1,000 echoes through <paramref name="tunnel"/> (a UDP-listen endpoint whose datagrams cross
    /// <paramref name="server"/>, whose far side's connections <paramref name="farSide"/> counts): the side stays up, holds
    /// its per-source cap and its rate of new connections, closes every hostile connection it can tell apart and counts
    /// why, grows less than 50 MB, and the peer loses nothing.
    /// </summary>
    private async Task AttackAsync(SideProcess server, int tcpPort, IPEndPoint tunnel, LinkCounters farSide, bool keyed)
    {
        // Pages become resident only where written (no transparent huge pages, which would round each touched
        // page of a connection's receive buffer up to 2 MiB as khugepaged goes by, on hosts where THP is "always").
        var thp = File.ReadLines($"/proc/{server.ProcessId}/status").FirstOrDefault(l => l.StartsWith("THP_enabled:"));
        if (thp is not null) Assert.Equal("0", thp.Split(':')[1].Trim());
        // The defaults: tcp.max-connections-per-source, or on a keyed side tcp.max-handshakes-per-source; tcp.new-connections-per-second.
        var perSource = keyed ? 128 : 1024;
        const int perSecond = 1000;
        var side = new IPEndPoint(IPAddress.Loopback, tcpPort);
        Assert.Equal(0, await EchoOneAtATimeAsync(IPAddress.Loopback, tunnel, count: 50));
        var rssBefore = server.ResidentBytes;

        var garbage = new List<(string Kind, TcpClient Connection)>();
        var silent = new List<TcpClient>();
        var refusedWhileConnecting = 0;
        try
        {
            int lost;
            TimeSpan connecting;
            (long Bytes, int Count) memory;
            long mostHeld;
            await using (var held = HeldConnections.Start(server, farSide))
            await using (var sampler = PeakMemory.Start(server))
            {
                // Random bytes, a half frame that stalls, a frame that stalls after its length, a frame longer than any UDP datagram.
                foreach (var (kind, bytes) in new[] { ("random", RandomNumberGenerator.GetBytes(64 * 1024)), ("half length", [0xFF]),
                             ("stalled frame", [0xFF, 0xFF, 1, 2, 3]), ("oversize", Oversize()) })
                {
                    var connection = await Connections.TryConnectFromAsync(Vandal, side) ?? throw new Xunit.Sdk.XunitException($"the {kind} connection was refused");
                    garbage.Add((kind, connection));
                    try { await connection.GetStream().WriteAsync(bytes); } catch (IOException) { }
                }
                // 3,000 connections opened and left silent.
                var clock = Stopwatch.StartNew();
                for (var i = 0; i < 3000; i++)
                {
                    if (await Connections.TryConnectFromAsync(Attacker, side) is { } connection) silent.Add(connection);
                    else refusedWhileConnecting++;
                }
                connecting = clock.Elapsed;
                lost = await EchoOneAtATimeAsync(IPAddress.Loopback, tunnel, count: 1000);
                memory = await sampler.StopAsync();
                mostHeld = await held.StopAsync();
            }
            Assert.Equal(0, lost);
            Assert.False(server.HasExited, $"the side exited: {server.Log}");

            // The side closes every silent connection: those over a limit at once, the others when their deadline passes
            // (the first frame's, or the handshake's). On a side without a key, random bytes and the oversize frame are
            // frames (they start sessions), so only the two that stall short of a frame are closed.
            var closable = garbage.Where(g => keyed || g.Kind is "half length" or "stalled frame").Select(g => g.Connection).Concat(silent).ToList();
            await Task.WhenAll(closable.Select(c => Connections.ReadUntilClosedAsync(c, Wait)));
            var carried = garbage.Count + silent.Count - closable.Count;

            // Every one of them was refused, and counted by reason, before it was closed; besides them the side refused at
            // most those refused before the attacker's connect returned, and the far side's own that failed (a limit turned
            // them away).
            var refusals = (await server.MetricsAsync()).Where(s => s.Instrument == "connections_refused" && s.Value > 0)
                .ToDictionary(s => s.Labels["reason"], s => (long)s.Value);
            long Refused(params string[] reasons) => reasons.Sum(refusals.GetValueOrDefault);
            var accepted = await server.MetricAsync("connections.opened", ("origin", "accepted"));
            // What was admitted from the hostile addresses, at most: all admitted, less what the far side had admitted.
            var hostileAdmitted = accepted - (farSide.Opened(LinkOrigin.Dialed) - farSide.FailedAttempts);
            var report = $"{silent.Count} silent connections in {connecting.TotalSeconds:0.0} s ({refusedWhileConnecting} refused while connecting) " +
                         $"and 4 garbage ones ({carried} carried as frames): {accepted} accepted, at most {hostileAdmitted} of them hostile; " +
                         $"at most {mostHeld} hostile ones held at once; refused {string.Join(", ", refusals.Select(r => $"{r.Key} {r.Value}"))}; " +
                         $"the far side's failed attempts {farSide.FailedAttempts}; RSS {rssBefore >> 20} MiB, at most {memory.Bytes >> 20} MiB in {memory.Count} samples";
            output.WriteLine(report);
            Assert.InRange(refusals.Values.Sum(), closable.Count, closable.Count + refusedWhileConnecting + farSide.FailedAttempts);
            // Those a limit did not turn away at once were admitted and closed at their deadline.
            string[] deadlines = keyed ? ["handshake-failed", "handshake-timeout", "silent"] : ["silent"];
            Assert.True(Refused(deadlines) >= closable.Count - Refused("source-limit", "rate-limit", "side-limit"), $"closed without a reason: {report}");
            if (keyed)
            {
                Assert.True(Refused("handshake-failed") >= 1, $"the random bytes did not fail the handshake: {report}");
                Assert.True(Refused("source-limit") > 0, $"3,000 silent connections never reached the cap of {perSource}: {report}");
            }
            else
            {
                Assert.True(Refused("silent") >= 2, $"the stalled frames were not closed for it: {report}");
                Assert.Equal(1, await server.MetricAsync("drops", ("reason", "oversize")));
            }
            Assert.True(mostHeld <= perSource + garbage.Count, $"more than the per-source cap held at once: {report}");
            Assert.True(hostileAdmitted <= perSecond + perSecond * connecting.TotalSeconds + garbage.Count, $"admitted faster than the rate: {report}");
            Assert.True(memory.Count >= 3, $"{memory.Count} memory samples");
            Assert.True(memory.Bytes - rssBefore < MemoryBound, $"RSS grew from {rssBefore >> 20} to {memory.Bytes >> 20} MiB");
        }
        finally
        {
            foreach (var (_, connection) in garbage) connection.Dispose();
            foreach (var connection in silent) connection.Dispose();
        }
    }

    private static byte[] Oversize()
    {
        var frame = new byte[2 + 65535];
        frame[0] = frame[1] = 0xFF;
        return frame;
    }

    /// <summary>
    /// Sends one datagram from each of <paramref name="count"/> ports on <paramref name="address"/> (of 1024 to
    /// 65535, skipping those in use), at most <paramref name="perSecond"/>; returns how many went out.
    /// </summary>
    private static int SendFromPorts(IPAddress address, IPEndPoint target, int count, int perSecond)
    {
        var sent = 0;
        var datagram = new byte[32];
        var clock = Stopwatch.StartNew();
        for (var port = 2000; port <= 65535 && sent < count; port++)
        {
            // Paced (a flood beyond what the side can read fills the socket's kernel buffer, and the kernel then
            // drops every source's datagrams alike, as it would for any UDP server).
            while (sent > perSecond * clock.Elapsed.TotalSeconds) Thread.Sleep(1);
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                socket.Bind(new IPEndPoint(address, port));
                socket.SendTo(datagram, target);
                sent++;
            }
            catch (SocketException)
            {
                // The port is in use on this machine: skip it.
            }
        }
        return sent;
    }

    /// <summary>A peer on <paramref name="address"/> sends datagrams one at a time and waits for each echo; returns how many never came back.</summary>
    private static async Task<int> EchoOneAtATimeAsync(IPAddress address, IPEndPoint tunnel, int count)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(address, 0));
        var buffer = new byte[2048];
        var lost = 0;
        for (var i = 0; i < count; i++)
        {
            var datagram = BitConverter.GetBytes(i);
            await socket.SendToAsync(datagram, tunnel);
            var length = await Peers.ReceiveAsync(socket, buffer, TimeSpan.FromSeconds(5), tunnel);
            if (length != 4 || BitConverter.ToInt32(buffer) != i) lost++;
        }
        return lost;
    }

    /// <summary>A side's resident memory, sampled every 50 ms from start to stop: the most it was, and how many samples.</summary>
    private sealed class PeakMemory : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task<(long Bytes, int Count)> _sampling;

        private PeakMemory(SideProcess side) => _sampling = Task.Run(() => SampleAsync(side));

        public static PeakMemory Start(SideProcess side) => new(side);

        public async Task<(long Bytes, int Count)> StopAsync()
        {
            await _stop.CancelAsync();
            return await _sampling;
        }

        private async Task<(long, int)> SampleAsync(SideProcess side)
        {
            var (most, count) = (0L, 0);
            while (true)
            {
                (most, count) = (Math.Max(most, side.ResidentBytes), count + 1);
                if (_stop.IsCancellationRequested) return (most, count);
                try { await Task.Delay(50, _stop.Token); } catch (OperationCanceledException) { }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await StopAsync();
            _stop.Dispose();
        }
    }

    /// <summary>
    /// The most hostile connections a side held at once, sampled every 200 ms from its /metrics: its open connections
    /// less those of its legitimate far side (which the far side counts as open before the side has them, never after).
    /// </summary>
    private sealed class HeldConnections : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task<long> _sampling;

        private HeldConnections(SideProcess side, LinkCounters farSide) => _sampling = Task.Run(() => SampleAsync(side, farSide));

        public static HeldConnections Start(SideProcess side, LinkCounters farSide) => new(side, farSide);

        public async Task<long> StopAsync()
        {
            await _stop.CancelAsync();
            return await _sampling;
        }

        private async Task<long> SampleAsync(SideProcess side, LinkCounters farSide)
        {
            var most = 0L;
            while (true)
            {
                var open = await side.MetricAsync("connections.active");
                most = Math.Max(most, open - farSide.Active);
                if (_stop.IsCancellationRequested) return most;
                try { await Task.Delay(200, _stop.Token); } catch (OperationCanceledException) { }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await StopAsync();
            _stop.Dispose();
        }
    }
}
