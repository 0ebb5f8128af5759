using System.Net;
using System.Net.Sockets;
using TunnelActors.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using TunnelActors.Observability;
using TunnelActors.Tools.Demo;

namespace TunnelActors.Tests.Faults;

/// <summary>
/// The far side killed (SIGKILL) and started again within <c>session.reconnect-grace</c>: the UDP-listen side
/// keeps every session, holds what its peers send meanwhile, and delivers it once a connection is back.
/// Asserted on the side's metrics.
/// </summary>
public sealed class ReconnectGraceTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private const int Peers = 3;
    private const int PerPhase = 20;
    private readonly UdpEcho _echo = new(new IPEndPoint(IPAddress.Loopback, 0));

    [Fact]
    public async Task Mullvad_orientation_the_tcp_server_killed_and_restarted_keeps_every_session_and_delivers_what_was_sent_meanwhile()
    {
        var tcpPort = BoundSockets.FreeTcpPort();
        string[] serverArgs = ["--tcp-listen", $"127.0.0.1:{tcpPort}", "--udp-forward", _echo.LocalEndPoint.ToString()];
        var server = SideProcess.Start(serverArgs);
        try
        {
            await server.TcpPortAsync();
            await using var client = await Sides.StartAsync("grace-client", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", $"127.0.0.1:{tcpPort}"),
                ("tunnel.tcp.reconnect.min-backoff", "100ms"), ("tunnel.tcp.reconnect.max-backoff", "500ms"));
            await RunOutageAsync("grace-client", client.UdpEndpoint, async () =>
            {
                await server.KillAsync();
                await server.DisposeAsync();
                server = SideProcess.Start(serverArgs);
                await server.TcpPortAsync();
            });
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Seed_orientation_the_relay_host_killed_and_restarted_keeps_every_session_on_the_nat_box()
    {
        await using var nat = await Sides.StartAsync("grace-nat", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.listen", "127.0.0.1:0"));
        string[] relayArgs = ["--tcp-connect", nat.TcpEndpoint.ToString(), "--udp-forward", _echo.LocalEndPoint.ToString(), "--pool-size", "4"];
        var relay = SideProcess.Start(relayArgs);
        try
        {
            Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read("grace-nat", "connections.active") >= 4, Wait));
            await RunOutageAsync("grace-nat", nat.UdpEndpoint, async () =>
            {
                await relay.KillAsync();
                await relay.DisposeAsync();
                relay = SideProcess.Start(relayArgs);
            });
        }
        finally
        {
            await relay.DisposeAsync();
        }
    }

    [NginxFact]
    public async Task Over_wss_through_nginx_nginx_killed_and_started_again_keeps_every_session_and_its_flow()
    {
        using var pki = new TestPki();
        var (cert, key, _) = pki.Issue();
        using var psk = new TempFile(TunnelActors.Auth.PreSharedKey.Generate());
        await using var server = await Sides.StartAsync("grace-ws-server", ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", _echo.LocalEndPoint.ToString()),
            ("tunnel.websocket.path", "/tunnel"), ("tunnel.auth.psk-file", psk.Path));
        var nginx = await Nginx.StartAsync(cert, key, "/tunnel", server.TcpEndpoint);
        try
        {
            await using var client = await Sides.StartAsync("grace-wss-client", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", $"wss://localhost:{nginx.Port}/tunnel"),
                ("tunnel.tls.ca-file", pki.CaFile), ("tunnel.auth.psk-file", psk.Path),
                ("tunnel.tcp.reconnect.min-backoff", "100ms"), ("tunnel.tcp.reconnect.max-backoff", "500ms"));
            await RunOutageAsync("grace-wss-client", client.UdpEndpoint, async () =>
            {
                var port = nginx.Port;
                nginx.Dispose();
                nginx = await Nginx.StartAsync(cert, key, "/tunnel", server.TcpEndpoint, port);
            });
            // The far side kept each peer's flow (its socket towards the target) across the new connection: no flow started twice.
            Assert.Equal(Peers, SideMetrics.Read("grace-ws-server", "sessions.started"));
        }
        finally
        {
            nginx.Dispose();
        }
    }

    [Fact]
    public async Task Silent_sessions_do_not_take_the_new_relay_hosts_pooled_connections_from_those_that_send()
    {
        // More silent sessions than the relay host keeps pooled: were each to lease a connection at once, none would
        // carry a frame, the relay would never replace them, and the sending peers would wait out their grace.
        await using var nat = await Sides.StartAsync("starve-nat", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.listen", "127.0.0.1:0"),
            ("tunnel.session.reconnect-grace", "5s"));
        string[] relayArgs = ["--tcp-connect", nat.TcpEndpoint.ToString(), "--udp-forward", _echo.LocalEndPoint.ToString(), "--pool-size", "2"];
        var relay = SideProcess.Start(relayArgs);
        try
        {
            var silent = Enumerable.Range(0, 6).Select(_ => new NumberedPeer(nat.UdpEndpoint)).ToList();
            using var talking = new NumberedPeer(nat.UdpEndpoint);
            foreach (var peer in silent.Append(talking)) await peer.SendAsync(0, 1);
            Assert.True(await BoundSockets.EventuallyAsync(() => silent.Append(talking).All(p => p.Received(0, 1) == 1), Wait));

            var clock = System.Diagnostics.Stopwatch.StartNew();
            await relay.KillAsync();
            await relay.DisposeAsync();
            // Once the NAT side has noticed (what a peer sends before that goes down the dead connection, as UDP would).
            Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read("starve-nat", "connections.active") == 0, Wait));
            relay = SideProcess.Start(relayArgs);
            Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read("starve-nat", "connections.pooled") >= 2, Wait));
            var pooledAfter = clock.Elapsed;
            await talking.SendAsync(1, 5);
            Assert.True(await BoundSockets.EventuallyAsync(() => talking.Received(1, 5) == 5, Wait),
                $"the talking peer was not served: {talking.Received(1, 5)} of 5 echoed; NAT side: sessions {SideMetrics.Read("starve-nat", "sessions.active")}, " +
                $"reconnected {SideMetrics.Read("starve-nat", "sessions.reconnected")}, ended {SideMetrics.Read("starve-nat", "sessions.ended")}, " +
                $"pooled {SideMetrics.Read("starve-nat", "connections.pooled")}, connections {SideMetrics.Read("starve-nat", "connections.active")}, " +
                $"drops {string.Join(",", Enum.GetValues<DropReason>().Select(r => (r, n: SideMetrics.Read("starve-nat", "drops", ("reason", TunnelActors.Observability.TunnelMetrics.TagValue(r.ToString()))))).Where(x => x.n > 0))}, " +
                $"ended {string.Join(",", Enum.GetValues<SessionEndReason>().Select(r => (r, n: SideMetrics.Read("starve-nat", "sessions.ended", ("reason", TunnelActors.Observability.TunnelMetrics.TagValue(r.ToString()))))).Where(x => x.n > 0))}, " +
                $"pooled again after {pooledAfter.TotalSeconds:0.0} s, now {clock.Elapsed.TotalSeconds:0.0} s; relay: {relay.Log}");
            // The silent sessions end with their grace (the talking one too, if its grace ran out as it sent: then
            // what it sent starts its next session).
            Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read("starve-nat", "sessions.ended", ("reason", "connection-lost")) >= 6, Wait));
            Assert.Equal(1, SideMetrics.Read("starve-nat", "sessions.active"));
            foreach (var peer in silent) peer.Dispose();
        }
        finally
        {
            await relay.DisposeAsync();
        }
    }

    /// <summary>
    /// Peers echo through the side; the far side goes away; once the side has noticed, the peers send again
    /// into the outage; the far side comes back; everything sent into the outage must come back.
    /// </summary>
    private async Task RunOutageAsync(string side, IPEndPoint tunnel, Func<Task> killAndRestart)
    {
        var peers = Enumerable.Range(0, Peers).Select(_ => new NumberedPeer(tunnel)).ToList();
        try
        {
            foreach (var peer in peers) await peer.SendAsync(0, PerPhase);
            Assert.True(await BoundSockets.EventuallyAsync(() => peers.All(p => p.Received(0, PerPhase) == PerPhase), Wait), "echoes before the outage");
            var closedBefore = SideMetrics.Read(side, "connections.closed");

            var outage = killAndRestart();
            Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read(side, "connections.closed") >= closedBefore + Peers, Wait),
                "the side did not notice that its connections were gone");
            foreach (var peer in peers) await peer.SendAsync(PerPhase, PerPhase);
            await outage;

            Assert.True(await BoundSockets.EventuallyAsync(() => peers.All(p => p.Received(PerPhase, PerPhase) == PerPhase), Wait),
                $"sent into the outage and echoed: {string.Join(", ", peers.Select(p => p.Received(PerPhase, PerPhase)))} of {PerPhase} each");
            foreach (var peer in peers) await peer.SendAsync(2 * PerPhase, PerPhase);
            Assert.True(await BoundSockets.EventuallyAsync(() => peers.All(p => p.Received(2 * PerPhase, PerPhase) == PerPhase), Wait), "echoes after the outage");

            output.WriteLine($"{side}: sessions started {SideMetrics.Read(side, "sessions.started")}, ended {SideMetrics.Read(side, "sessions.ended")}, " +
                             $"reconnected {SideMetrics.Read(side, "sessions.reconnected")}, drops {SideMetrics.Read(side, "drops")}");
            Assert.Equal(Peers, SideMetrics.Read(side, "sessions.started"));
            Assert.Equal(0, SideMetrics.Read(side, "sessions.ended"));
            Assert.Equal(Peers, SideMetrics.Read(side, "sessions.active"));
            Assert.Equal(Peers, SideMetrics.Read(side, "sessions.reconnected"));
            Assert.Equal(0, SideMetrics.Read(side, "drops"));
        }
        finally
        {
            foreach (var peer in peers) peer.Dispose();
        }
    }

    public void Dispose() => _echo.Dispose();
}
