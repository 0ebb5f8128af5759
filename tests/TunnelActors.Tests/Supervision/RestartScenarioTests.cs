using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using TunnelActors.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using TunnelActors;
using TunnelActors.Configuration;
using TunnelActors.Flow;
using TunnelActors.Transport;
using TunnelActors.Tools.Demo;
using TunnelActors.Tools.Bench;

namespace TunnelActors.Tests.Supervision;

/// <summary>
/// What the supervisors restart and what they stop, over real sockets: the supervisor under test runs in
/// the TestKit's actor system, its far side in a system of its own.
/// </summary>
public sealed class RestartScenarioTests : TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    // Debug: the pool's redials are logged at debug level (a dial failure is a warning once a minute).
    public RestartScenarioTests(ITestOutputHelper output)
        : base(ConfigurationFactory.ParseString("akka.loglevel = DEBUG").WithFallback(TunnelConfiguration.Reference), output: output) { }

    private async Task<IReadOnlyDictionary<string, EndPoint>> StartAsync(params (string, string)[] settings)
    {
        var configuration = Sides.Configure(settings);
        var supervisor = Sys.ActorOf(TunnelSupervisor.Props(configuration.Settings), "tunnel");
        var answer = await supervisor.Ask<object>(TunnelSupervisor.AwaitReady.Instance, Wait);
        return Assert.IsType<TunnelSupervisor.Ready>(answer).Endpoints;
    }

    /// <summary>Where a side's UDP socket actors are: its own manager's children, or Akka.IO's (<c>tunnel.udp.io</c>).</summary>
    private static string UdpSockets(string io) => io == "akka" ? "/system/IO-UDP-FF/*" : $"/user/tunnel/{DatagramManager.Name}/*";

    private static async Task AssertEchoesAsync(Socket peer, IPEndPoint tunnel, byte marker)
    {
        var buffer = new byte[65536];
        await peer.SendToAsync(new byte[] { marker, 1, 2, 3 }, tunnel);
        var length = await Peers.ReceiveAsync(peer, buffer, Wait, tunnel);
        Assert.Equal(4, length);
        Assert.Equal(marker, buffer[0]);
    }

    [Fact]
    public async Task A_crashing_session_is_stopped_alone_and_its_peer_gets_a_new_one()
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        await using var server = await Sides.StartAsync("server", ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", echo.LocalEndPoint.ToString()));
        var endpoints = await StartAsync(("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", server.TcpEndpoint.ToString()));
        var tunnel = (IPEndPoint)endpoints["udp"];

        using var first = Peers.Bind(AddressFamily.InterNetwork);
        using var second = Peers.Bind(AddressFamily.InterNetwork);
        await AssertEchoesAsync(first, tunnel, 1);
        await AssertEchoesAsync(second, tunnel, 2);

        var firstSession = await Sys.ActorSelection("/user/tunnel/udp/peer-1").ResolveOne(Wait);
        var secondSession = await Sys.ActorSelection("/user/tunnel/udp/peer-2").ResolveOne(Wait);
        Watch(firstSession);
        Watch(secondSession);
        firstSession.Tell(Kill.Instance);
        ExpectTerminated(firstSession, Wait);

        await AssertEchoesAsync(second, tunnel, 3);
        await AssertEchoesAsync(first, tunnel, 4);
        await Sys.ActorSelection("/user/tunnel/udp/peer-3").ResolveOne(Wait);
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public async Task A_restarted_udp_endpoint_rebinds_its_port_without_leaking_the_old_socket()
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        await using var server = await Sides.StartAsync("server", ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", echo.LocalEndPoint.ToString()));
        var port = BoundSockets.FreeUdpPort();
        await StartAsync(("tunnel.udp.listen", $"127.0.0.1:{port}"), ("tunnel.tcp.connect", server.TcpEndpoint.ToString()));
        var tunnel = new IPEndPoint(IPAddress.Loopback, port);
        using var peer = Peers.Bind(AddressFamily.InterNetwork);
        await AssertEchoesAsync(peer, tunnel, 1);
        var before = BoundSockets.UdpInodes(port);
        Assert.Equal(Sides.ListenSockets, before.Count);

        var endpoint = await Sys.ActorSelection("/user/tunnel/udp").ResolveOne(Wait);
        var probe = CreateTestProbe();
        probe.Watch(endpoint);
        endpoint.Tell(Kill.Instance);

        // The supervisor restarts the endpoint (same reference, no Terminated) and it binds the port again.
        await RetryEchoAsync(peer, tunnel);
        Assert.True(await BoundSockets.EventuallyAsync(() => BoundSockets.Udp(port) == Sides.ListenSockets, Wait));
        Assert.Empty(BoundSockets.UdpInodes(port).Intersect(before));
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(100));

        var supervisor = await Sys.ActorSelection("/user/tunnel").ResolveOne(Wait);
        Assert.True(await supervisor.GracefulStop(Wait, TunnelActors.Transport.Shutdown.Instance));
        Assert.True(await BoundSockets.EventuallyAsync(() => BoundSockets.Udp(port) == 0, Wait), "the port is still bound after shutdown");
    }

    [Fact]
    public async Task A_restarted_tcp_endpoint_under_load_releases_the_forward_socket_of_every_session_it_had()
    {
        // Every forward socket of this side binds to its own loopback address: the kernel's table shows exactly those.
        var forwardAddress = IPAddress.Parse("127.0.0.9");
        using var target = new UdpTarget();
        var tcpPort = BoundSockets.FreeTcpPort(); // the restarted endpoint binds the same port again
        await StartAsync(("tunnel.tcp.listen", $"127.0.0.1:{tcpPort}"), ("tunnel.udp.forward", target.LocalEndPoint.ToString()),
            ("tunnel.udp.forward-bind", $"{forwardAddress}:0"));
        var client = await Sides.StartAsync("leak-client", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", $"127.0.0.1:{tcpPort}"),
            ("tunnel.tcp.reconnect.min-backoff", "100ms"), ("tunnel.tcp.reconnect.max-backoff", "200ms"));
        try
        {
            const int peers = 40;
            var sockets = Enumerable.Range(0, peers).Select(_ => Peers.Bind(AddressFamily.InterNetwork)).ToList();
            using var stop = new CancellationTokenSource();
            var load = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    foreach (var socket in sockets) await socket.SendToAsync(new byte[] { 1, 2, 3 }, client.UdpEndpoint);
                    await Task.Delay(20);
                }
            });
            Assert.True(await BoundSockets.EventuallyAsync(() => BoundSockets.UdpOn(forwardAddress) == peers, Wait),
                $"{BoundSockets.UdpOn(forwardAddress)} forward sockets, not {peers}");

            var endpoint = await Sys.ActorSelection("/user/tunnel/tcp").ResolveOne(Wait);
            endpoint.Tell(Kill.Instance);
            // The far side's sessions move to new connections, each with a new forward socket.
            Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read("leak-client", "sessions.reconnected") >= peers, Wait));
            await stop.CancelAsync();
            await load;
            foreach (var socket in sockets) socket.Dispose();
        }
        finally
        {
            await client.DisposeAsync();
        }
        // With the far side gone every session has ended: no forward socket may be left, neither the old nor the new ones.
        Assert.True(await BoundSockets.EventuallyAsync(() => BoundSockets.UdpOn(forwardAddress) == 0, Wait),
            $"{BoundSockets.UdpOn(forwardAddress)} forward sockets are still bound after every session ended");
    }

    [Fact]
    public async Task A_failed_bind_is_reported_and_retried_with_backoff_until_the_port_is_free()
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        await using var server = await Sides.StartAsync("server", ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", echo.LocalEndPoint.ToString()));
        var squatter = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        squatter.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)squatter.LocalEndPoint!).Port;

        var configuration = Sides.Configure(("tunnel.udp.listen", $"127.0.0.1:{port}"), ("tunnel.tcp.connect", server.TcpEndpoint.ToString()),
            ("tunnel.rebind.min-backoff", "100ms"), ("tunnel.rebind.max-backoff", "200ms"));
        var supervisor = Sys.ActorOf(TunnelSupervisor.Props(configuration.Settings), "tunnel");
        var answer = await supervisor.Ask<object>(TunnelSupervisor.AwaitReady.Instance, Wait);
        Assert.Contains($"127.0.0.1:{port}", Assert.IsType<TunnelSupervisor.StartFailed>(answer).Reason);

        squatter.Dispose();
        using var peer = Peers.Bind(AddressFamily.InterNetwork);
        await RetryEchoAsync(peer, new IPEndPoint(IPAddress.Loopback, port));
    }

    [Fact]
    public async Task A_restarted_tcp_endpoint_listens_again_on_its_port()
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        var tcpPort = BoundSockets.FreeTcpPort();
        await StartAsync(("tunnel.tcp.listen", $"127.0.0.1:{tcpPort}"), ("tunnel.udp.forward", echo.LocalEndPoint.ToString()));
        var before = Assert.Single(BoundSockets.TcpListenerInodes(tcpPort));

        var endpoint = await Sys.ActorSelection("/user/tunnel/tcp").ResolveOne(Wait);
        endpoint.Tell(Kill.Instance);
        Assert.True(await BoundSockets.EventuallyAsync(() => BoundSockets.TcpListenerInodes(tcpPort) is [var only] && only != before, Wait),
            "the old listener was not replaced by exactly one new one");

        await using var client = await Sides.StartAsync("client", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", $"127.0.0.1:{tcpPort}"));
        Assert.Empty(await Peers.EchoAsync(client.UdpEndpoint, 3, [1, 1200]));
    }

    [Fact]
    public async Task A_closed_tunnel_connection_not_replaced_within_the_grace_ends_its_session_on_the_udp_listen_side_after_the_grace()
    {
        var grace = TimeSpan.FromSeconds(1);
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        var server = await Sides.StartAsync("server", ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", echo.LocalEndPoint.ToString()));
        var endpoints = await StartAsync(("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", server.TcpEndpoint.ToString()),
            ("tunnel.session.reconnect-grace", "1s"));
        var tunnel = (IPEndPoint)endpoints["udp"];
        using var peer = Peers.Bind(AddressFamily.InterNetwork);
        await AssertEchoesAsync(peer, tunnel, 1);

        var session = await Sys.ActorSelection("/user/tunnel/udp/peer-1").ResolveOne(Wait);
        Watch(session);
        // The connection closes after this instant, however slowly the far side stops: the session must outlive it by the grace.
        var sinceClose = System.Diagnostics.Stopwatch.StartNew();
        await server.DisposeAsync();
        await ExpectTerminatedAsync(session, Wait);
        var lived = sinceClose.Elapsed;
        Assert.True(lived >= grace, $"the session ended {lived.TotalMilliseconds:0} ms after its connection closed, within the grace of {grace.TotalMilliseconds:0} ms");
        // Soon after, not at some other deadline (the default grace is 10 s; idle and unanswered timeouts are longer).
        Assert.True(lived < grace + TimeSpan.FromSeconds(5), $"the session ended {lived.TotalSeconds:0.0} s after its connection closed, with a grace of {grace.TotalSeconds} s");
        Assert.Equal(1, SideMetrics.Read(Sys.Name, "sessions.ended", ("reason", "connection-lost")));
    }

    [Fact]
    public async Task A_lost_connection_is_redialled_on_the_connect_side()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var far = (IPEndPoint)listener.LocalEndpoint;
        // A short connect timeout: resetting a connection right after accepting it sometimes kills Akka.IO's
        // connection actor before it answers the dial; the session's watchdog (connect-timeout + 2 s) covers that.
        await StartAsync(("tunnel.tcp.connect", far.ToString()), ("tunnel.tcp.pool-size", "0"), ("tunnel.tcp.connect-timeout", "1s"),
            ("tunnel.tcp.reconnect.min-backoff", "50ms"), ("tunnel.udp.forward", "127.0.0.1:9"));

        using (var first = await Connections.AcceptAsync(listener))
            first.Client.Close(0);

        using var second = await Connections.AcceptAsync(listener);
        Assert.True(second.Connected);
    }

    [Theory]
    [InlineData("batched")]
    [InlineData("akka")]
    public async Task A_udp_socket_actor_that_dies_is_noticed_and_its_endpoint_binds_again(string io)
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        await using var server = await Sides.StartAsync("server", ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", echo.LocalEndPoint.ToString()));
        var udpPort = BoundSockets.FreeUdpPort();
        await StartAsync(("tunnel.udp.listen", $"127.0.0.1:{udpPort}"), ("tunnel.tcp.connect", server.TcpEndpoint.ToString()), ("tunnel.udp.io", io));
        var tunnel = new IPEndPoint(IPAddress.Loopback, udpPort);
        using var peer = Peers.Bind(AddressFamily.InterNetwork);
        await AssertEchoesAsync(peer, tunnel, 1);

        // The UDP-listen sockets' actors (one per receive thread) are the only children of this system's UDP manager.
        var socket = await Sys.ActorSelection(UdpSockets(io)).ResolveOne(Wait);
        Watch(socket);
        await EventFilter.Warning(contains: "socket's actor stopped; binding it again").ExpectOneAsync(async () =>
        {
            socket.Tell(Kill.Instance);
            await ExpectTerminatedAsync(socket, Wait);
        });
        Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read(Sys.Name, "endpoints.bound", ("endpoint", "udp")) == 1
            && BoundSockets.Udp(udpPort) == (io == "akka" ? 1 : Sides.ListenSockets), Wait));
        await AssertEchoesAsync(peer, tunnel, 2);
    }

    [Fact]
    public async Task A_tcp_listener_actor_that_dies_is_noticed_its_endpoint_binds_again_and_the_far_side_comes_back()
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        var tcpPort = BoundSockets.FreeTcpPort();
        await StartAsync(("tunnel.tcp.listen", $"127.0.0.1:{tcpPort}"), ("tunnel.udp.forward", echo.LocalEndPoint.ToString()));
        await using var client = await Sides.StartAsync("client", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", $"127.0.0.1:{tcpPort}"),
            ("tunnel.tcp.reconnect.min-backoff", "100ms"));
        using var peer = Peers.Bind(AddressFamily.InterNetwork);
        await AssertEchoesAsync(peer, client.UdpEndpoint, 1);

        // The listener is the TCP manager's only child here; its accepted connections are its children and die with it.
        var listener = await Sys.ActorSelection("/system/IO-TCP/*").ResolveOne(Wait);
        Watch(listener);
        listener.Tell(Kill.Instance);
        await ExpectTerminatedAsync(listener, Wait);
        Assert.True(await BoundSockets.EventuallyAsync(() => BoundSockets.TcpListeners(tcpPort) == 1, Wait), "the TCP endpoint did not bind again");
        await AssertEchoesAsync(peer, client.UdpEndpoint, 2);
        Assert.Equal(0, SideMetrics.Read("client", "sessions.ended"));
        Assert.Equal(1, SideMetrics.Read("client", "sessions.reconnected"));
    }

    [Theory]
    [InlineData("batched")]
    [InlineData("akka")]
    public async Task A_forward_socket_actor_that_dies_ends_its_session_and_the_far_sides_session_moves_to_a_new_one(string io)
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        var endpoints = await StartAsync(("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", echo.LocalEndPoint.ToString()), ("tunnel.udp.io", io));
        await using var client = await Sides.StartAsync("client", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", endpoints["tcp"].ToString()!),
            ("tunnel.tcp.reconnect.min-backoff", "100ms"));
        using var peer = Peers.Bind(AddressFamily.InterNetwork);
        await AssertEchoesAsync(peer, client.UdpEndpoint, 1);

        // This side listens on TCP only: the UDP manager's one child is the session's forward socket.
        var socket = await Sys.ActorSelection(UdpSockets(io)).ResolveOne(Wait);
        Watch(socket);
        socket.Tell(Kill.Instance);
        await ExpectTerminatedAsync(socket, Wait);
        Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read(Sys.Name, "sessions.ended", ("reason", "connection-lost")) == 1, Wait));
        await RetryEchoAsync(peer, client.UdpEndpoint);
        Assert.Equal(1, SideMetrics.Read("client", "sessions.reconnected"));
        Assert.Equal(0, SideMetrics.Read("client", "sessions.ended"));
    }

    [Fact]
    public async Task A_connection_actor_that_dies_is_noticed_and_its_session_moves_to_a_new_connection()
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        await using var server = await Sides.StartAsync("server", ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", echo.LocalEndPoint.ToString()));
        var endpoints = await StartAsync(("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", server.TcpEndpoint.ToString()));
        var tunnel = (IPEndPoint)endpoints["udp"];
        using var peer = Peers.Bind(AddressFamily.InterNetwork);
        await AssertEchoesAsync(peer, tunnel, 1);

        // The session's dialed connection is the TCP manager's one child here.
        var connection = await Sys.ActorSelection("/system/IO-TCP/*").ResolveOne(Wait);
        Watch(connection);
        connection.Tell(Kill.Instance);
        await ExpectTerminatedAsync(connection, Wait);
        Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read(Sys.Name, "connections.closed") == 1, Wait));

        await AssertEchoesAsync(peer, tunnel, 2);
        Assert.Equal(1, SideMetrics.Read(Sys.Name, "sessions.reconnected"));
        Assert.Equal(0, SideMetrics.Read(Sys.Name, "sessions.ended"));
    }

    [Fact]
    public async Task A_lease_lost_in_a_restarted_pool_is_asked_again_and_answered()
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        var tcpPort = BoundSockets.FreeTcpPort(); // the restarted pool binds the same port again
        var endpoints = await StartAsync(("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.listen", $"127.0.0.1:{tcpPort}"), ("tunnel.tcp.connect-timeout", "1s"));
        var tunnel = (IPEndPoint)endpoints["udp"];
        using var peer = Peers.Bind(AddressFamily.InterNetwork);
        // No relay yet: the peer's session waits in the pool's queue.
        await peer.SendToAsync(new byte[] { 9, 1, 2, 3 }, tunnel);
        Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read(Sys.Name, "sessions.active") == 1, Wait));

        // The pool restarts and forgets who was waiting.
        var pool = await Sys.ActorSelection("/user/tunnel/tcp").ResolveOne(Wait);
        await EventFilter.Error(contains: "restarting it").ExpectOneAsync(() =>
        {
            pool.Tell(Kill.Instance);
            return Task.CompletedTask;
        });
        var tcp = (IPEndPoint)endpoints["tcp"];
        Assert.True(await BoundSockets.EventuallyAsync(() => BoundSockets.TcpListeners(tcp.Port) == 1, Wait), "the pool did not bind again");
        await using var relay = await Sides.StartAsync("relay", ("tunnel.tcp.connect", tcp.ToString()), ("tunnel.udp.forward", echo.LocalEndPoint.ToString()));

        var buffer = new byte[64];
        Assert.Equal(4, await Peers.ReceiveAsync(peer, buffer, Wait, tunnel));
        Assert.Equal(9, buffer[0]);
    }

    [Fact]
    public async Task A_far_side_that_comes_up_late_is_redialled_with_growing_delays_and_reached()
    {
        var port = BoundSockets.FreeTcpPort();
        var started = System.Diagnostics.Stopwatch.StartNew();
        // No jitter: the delays are exactly 100, 200, 400 ms, then 400 ms each.
        await StartAsync(("tunnel.tcp.connect", $"127.0.0.1:{port}"), ("tunnel.tcp.reconnect.min-backoff", "100ms"),
            ("tunnel.tcp.reconnect.max-backoff", "400ms"), ("tunnel.tcp.reconnect.random-factor", "0"), ("tunnel.udp.forward", "127.0.0.1:9"));
        long Failed() => SideResources.For(Sys).Links.FailedAttempts;

        // The fourth refused attempt comes after three delays, and however slow the machine, not before.
        Assert.True(await BoundSockets.EventuallyAsync(() => Failed() >= 4, Wait));
        Assert.True(started.Elapsed >= TimeSpan.FromMilliseconds(100 + 200 + 400), $"four attempts within {started.ElapsedMilliseconds} ms");
        // A pool of four dials one connection at a time while the far side does not answer, never four at once.
        var elapsed = started.Elapsed;
        Assert.True(Failed() <= 2 + elapsed.TotalMilliseconds / 100, $"{Failed()} failed attempts in {elapsed.TotalMilliseconds:0} ms");

        using var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        using var first = await Connections.AcceptAsync(listener);
        Assert.True(first.Connected);
    }

    [Fact]
    public async Task Idle_expiry_ends_both_sessions_and_releases_their_sockets()
    {
        using var echo = new UdpTarget();
        await using var server = await Sides.StartAsync("server", ("tunnel.tcp.listen", "127.0.0.1:0"),
            ("tunnel.udp.forward", echo.LocalEndPoint.ToString()), ("tunnel.session.idle-timeout", "60s"));
        var endpoints = await StartAsync(("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", server.TcpEndpoint.ToString()),
            ("tunnel.session.idle-timeout", "300ms"));
        var tunnel = (IPEndPoint)endpoints["udp"];
        using var peer = Peers.Bind(AddressFamily.InterNetwork);
        await AssertEchoesAsync(peer, tunnel, 1);

        var forwardPort = Assert.Single(echo.Sources).Key.Port;
        Assert.Equal(1, BoundSockets.Udp(forwardPort));
        var session = await Sys.ActorSelection("/user/tunnel/udp/peer-1").ResolveOne(Wait);
        Watch(session);
        ExpectTerminated(session, Wait);

        // The far side's session ends with the connection and unbinds its forward socket.
        Assert.True(await BoundSockets.EventuallyAsync(() => BoundSockets.Udp(forwardPort) == 0, Wait), "the forward socket is still bound");
        var serverCounters = await server.CountersAsync();
        Assert.Equal(1, serverCounters.ToUdpDatagrams);
    }

    private async Task RetryEchoAsync(Socket peer, IPEndPoint tunnel)
    {
        // Datagrams sent while the endpoint is between sockets are lost, as UDP is: send until one echoes.
        var buffer = new byte[64];
        var deadline = DateTime.UtcNow + Wait;
        while (DateTime.UtcNow < deadline)
        {
            await peer.SendToAsync(new byte[] { 9 }, tunnel);
            if (await Peers.ReceiveAsync(peer, buffer, TimeSpan.FromMilliseconds(300), tunnel) == 1) return;
        }
        Assert.Fail("no echo after the endpoint restarted");
    }
}
