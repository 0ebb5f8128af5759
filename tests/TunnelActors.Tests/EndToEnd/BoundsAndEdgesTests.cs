using System.Buffers;
using System.Net;
using System.Net.Sockets;
using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors.Flow;
using TunnelActors.Observability;
using TunnelActors.Tools.Demo;

namespace TunnelActors.Tests.EndToEnd;

public sealed class BoundsAndEdgesTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_peer_that_never_reads_gets_whole_frames_and_the_excess_is_dropped_and_counted()
    {
        using var stalled = new TcpListener(IPAddress.Loopback, 0);
        stalled.Start();
        await using var client = await Sides.StartAsync("client", ("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", stalled.LocalEndpoint.ToString()!), ("tunnel.tcp.send-queue-limit", "128 KiB"));

        using var peer = Peers.Bind(AddressFamily.InterNetwork);
        var datagram = new byte[1200];
        const int sent = 20_000;
        var socketDropsBefore = BoundSockets.UdpSocketDrops(Environment.ProcessId, client.UdpEndpoint.Port);
        await peer.SendToAsync(datagram, client.UdpEndpoint);
        using var connection = await Connections.AcceptAsync(stalled);
        for (var i = 1; i < sent; i++)
        {
            BitConverter.TryWriteBytes(datagram, i);
            datagram[^1] = (byte)i;
            await peer.SendToAsync(datagram, client.UdpEndpoint);
        }

        // Every datagram the kernel gave the side is written into the tunnel, dropped by reason, or held in the
        // connection's send queue (at most send-queue-limit of frames): wait until the side has taken in all but those.
        var counters = await client.CountersAsync();
        long SocketDrops() => BoundSockets.UdpSocketDrops(Environment.ProcessId, client.UdpEndpoint.Port) - socketDropsBefore;
        const int queueHolds = 128 * 1024 / (2 + 1200) + 1;
        Assert.True(await BoundSockets.EventuallyAsync(() => counters.ToTcpDatagrams + counters.TotalDropped + SocketDrops() >= sent - queueHolds, Wait),
            $"of {sent} datagrams sent, {SocketDrops()} were dropped by the kernel and the side counts {counters}");
        Assert.True(counters.Dropped(DropReason.TcpSendQueueFull) > 0, $"nothing was dropped while the far side did not read: {counters}");

        // The far side reads now. Once the side has accounted for every datagram and the connection has carried everything
        // written, the stream is complete.
        var received = new ArrayBufferWriter<byte>();
        using var stopReading = new CancellationTokenSource();
        var reading = Task.Run(async () =>
        {
            var buffer = new byte[65536];
            int read;
            while ((read = await connection.GetStream().ReadAsync(buffer, stopReading.Token)) > 0)
                lock (received) received.Write(buffer.AsSpan(0, read));
        });
        Assert.True(await BoundSockets.EventuallyAsync(() => counters.ToTcpDatagrams + counters.TotalDropped + SocketDrops() == sent, Wait),
            $"of {sent} datagrams sent, {SocketDrops()} were dropped by the kernel and the side counts {counters}");
        int Received() { lock (received) return received.WrittenCount; }
        Assert.True(await BoundSockets.EventuallyAsync(() => Received() == counters.ToTcpBytes + 2 * counters.ToTcpDatagrams, Wait),
            $"{Received()} bytes arrived of the {counters.ToTcpBytes + 2 * counters.ToTcpDatagrams} written as frames");
        await stopReading.CancelAsync();
        try { await reading; } catch (OperationCanceledException) { }

        // What was written is a clean sequence of whole frames, each datagram intact.
        var payloads = Frames.Read(received.WrittenSpan, out var rest);
        Assert.Equal(0, rest);
        Assert.Equal(counters.ToTcpDatagrams, payloads.Count);
        Assert.All(payloads, payload => Assert.True(payload.Length == 1200 && payload[^1] == (byte)BitConverter.ToInt32(payload)));
    }

    [Fact]
    public async Task Frames_on_a_pooled_connection_no_peer_is_bound_to_are_dropped_and_counted()
    {
        await using var nat = await Sides.StartAsync("nat", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.listen", "127.0.0.1:0"));
        using var foreign = new TcpClient();
        await foreign.ConnectAsync(nat.TcpEndpoint);
        await foreign.GetStream().WriteAsync(Frames.Repeat(3, new byte[100]));

        var counters = await nat.CountersAsync();
        Assert.True(await BoundSockets.EventuallyAsync(() => counters.Dropped(DropReason.NoPeerBound) == 3, Wait), counters.ToString());
    }

    [Fact]
    public async Task A_fixed_forward_port_serves_one_session_and_refuses_a_second_cleanly()
    {
        using var target = new UdpTarget();
        var port = BoundSockets.FreeUdpPort(); // the setting under test is a fixed port
        await using var server = await Sides.StartAsync("server", ("tunnel.tcp.listen", "127.0.0.1:0"),
            ("tunnel.udp.forward", target.LocalEndPoint.ToString()), ("tunnel.udp.forward-bind", $"127.0.0.1:{port}"));
        await using var client = await Sides.StartAsync("client", ("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", server.TcpEndpoint.ToString()));
        var sessions = SideResources.For(server.System).Sessions;

        using var first = Peers.Bind(AddressFamily.InterNetwork);
        using var second = Peers.Bind(AddressFamily.InterNetwork);
        var buffer = new byte[64];
        await first.SendToAsync(new byte[] { 1 }, client.UdpEndpoint);
        Assert.Equal(1, await Peers.ReceiveAsync(first, buffer, Wait, client.UdpEndpoint));

        // The second session cannot bind the same port: it ends, releasing its connection, and the first goes on.
        await second.SendToAsync(new byte[] { 2 }, client.UdpEndpoint);
        Assert.True(await BoundSockets.EventuallyAsync(() => sessions.Ended(SessionEndReason.BindFailed) == 1, Wait), "the second session did not end for its bind");
        Assert.Null(await Peers.ReceiveAsync(second, buffer, TimeSpan.FromMilliseconds(500), client.UdpEndpoint));
        await first.SendToAsync(new byte[] { 3 }, client.UdpEndpoint);
        Assert.Equal(1, await Peers.ReceiveAsync(first, buffer, Wait, client.UdpEndpoint));
        Assert.Equal(3, buffer[0]);
        // Everything the target got came from the fixed port, and none of it from the second peer.
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, port), Assert.Single(target.Sources).Key);
        Assert.Empty(target.SourcesOf(2));
        Assert.Equal(1, sessions.Active);
        Assert.Equal(1, BoundSockets.Udp(port));
    }

    [Fact]
    public async Task A_host_name_to_dial_is_resolved_and_dialled_in_both_orientations()
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        await using var nat = await Sides.StartAsync("nat", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.listen", "127.0.0.1:0"));
        await using var relay = await Sides.StartAsync("relay",
            ("tunnel.tcp.connect", $"localhost:{nat.TcpEndpoint.Port}"), ("tunnel.udp.forward", echo.LocalEndPoint.ToString()));
        await using var server = await Sides.StartAsync("server", ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", echo.LocalEndPoint.ToString()));
        await using var client = await Sides.StartAsync("client", ("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", $"localhost:{server.TcpEndpoint.Port}"));

        Assert.Empty(await Peers.EchoAsync(nat.UdpEndpoint, 3, [1, 1200]));
        Assert.Empty(await Peers.EchoAsync(client.UdpEndpoint, 3, [1, 1200]));
    }

    [NamespaceFact]
    public async Task A_host_name_to_dial_is_resolved_again_when_redialling_so_a_far_side_that_moved_is_reached()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        // ip netns exec gives a program in the namespace /etc/netns/NAME/hosts as its /etc/hosts: the test's own name service.
        var names = Path.Combine("/etc/netns", ns.Name);
        var made = !Directory.Exists("/etc/netns");
        Directory.CreateDirectory(names);
        var hosts = Path.Combine(names, "hosts");
        try
        {
            File.WriteAllText(hosts, "127.0.0.1 localhost\n127.0.0.2 far.test\n");
            using var echo = new UdpEcho(new IPEndPoint(ns.HostAddress, 0));
            // Two NAT boxes in the namespace on the same port of two addresses: where far.test is now, and where it moves to.
            var before = SideProcess.StartIn(ns, "--udp-listen", $"{ns.NamespaceAddress}:0", "--tcp-listen", "127.0.0.2:0", "--no-auth");
            var port = await before.TcpPortAsync();
            await using var after = SideProcess.StartIn(ns, "--udp-listen", $"{ns.NamespaceAddress}:0", "--tcp-listen", $"127.0.0.3:{port}", "--no-auth");
            await after.TcpPortAsync();
            // Akka.IO keeps a name's address for positive-ttl (30 s by default): a second here.
            using var config = new TempFile(string.Join('\n', "akka.io.dns.inet-address.positive-ttl = 1s", "akka.io.dns.inet-address.negative-ttl = 1s",
                "tunnel.tcp.reconnect.min-backoff = 100ms", "tunnel.tcp.reconnect.max-backoff = 500ms"));
            await using var relay = SideProcess.StartIn(ns, "--tcp-connect", $"far.test:{port}", "--udp-forward", echo.LocalEndPoint.ToString(),
                "--config", config.Path);
            try
            {
                Assert.Empty(await Peers.EchoAsync(new IPEndPoint(ns.NamespaceAddress, await before.UdpPortAsync()), 2, [1, 100], from: ns.HostAddress));
            }
            finally
            {
                // The far side moves: its name points elsewhere, and the old address answers no more.
                File.WriteAllText(hosts, "127.0.0.1 localhost\n127.0.0.3 far.test\n");
                await before.DisposeAsync();
            }
            // Its dials go out on dual-stack sockets: IPv4-mapped, in the namespace's tcp6 table.
            Assert.True(await BoundSockets.EventuallyAsync(() => BoundSockets.ConnectedTo($"/proc/{relay.ProcessId}/net/tcp6", port), Wait),
                $"the relay did not reach far.test at its new address: {relay.Log}");
            Assert.Empty(await Peers.EchoAsync(new IPEndPoint(ns.NamespaceAddress, await after.UdpPortAsync()), 2, [1, 100], from: ns.HostAddress));
        }
        finally
        {
            Directory.Delete(names, recursive: true);
            if (made) Directory.Delete("/etc/netns");
        }
    }

    [Fact]
    public async Task A_burst_of_new_peers_right_after_start_is_served_at_once()
    {
        // 200 sessions start (each with its timers and its own dial) in the same instant.
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        await using var server = await Sides.StartAsync("server", ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", echo.LocalEndPoint.ToString()));
        await using var client = await Sides.StartAsync("client", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", server.TcpEndpoint.ToString()));
        Assert.Empty(await Peers.EchoAsync(client.UdpEndpoint, 200, [1]));
    }

    [Fact]
    public async Task Tunnel_connections_on_both_ends_keep_alive()
    {
        await using var nat = await Sides.StartAsync("nat", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.listen", "127.0.0.1:0"));
        await using var relay = await Sides.StartAsync("relay", ("tunnel.tcp.pool-size", "1"),
            ("tunnel.tcp.connect", nat.TcpEndpoint.ToString()), ("tunnel.udp.forward", "127.0.0.1:9"));

        // The kernel arms the keepalive timer (timer_active 2 in /proc/net/tcp) on an idle connection only
        // when SO_KEEPALIVE is set: check the accepted end and the dialed end.
        var port = nat.TcpEndpoint.Port;
        Assert.True(await BoundSockets.EventuallyAsync(() => BoundSockets.KeepAliveTimers(port) == (Accepted: 1, Dialed: 1), Wait),
            $"keepalive timers (accepted, dialed): {BoundSockets.KeepAliveTimers(port)}");
    }

    [Fact]
    public async Task A_new_peer_waits_for_the_next_pooled_connection()
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        await using var nat = await Sides.StartAsync("nat", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.listen", "127.0.0.1:0"));
        using var peer = Peers.Bind(AddressFamily.InterNetwork);
        // No relay yet: the datagram waits in the session's queue.
        await peer.SendToAsync(new byte[] { 1, 2, 3 }, nat.UdpEndpoint);

        await using var relay = await Sides.StartAsync("relay",
            ("tunnel.tcp.connect", nat.TcpEndpoint.ToString()), ("tunnel.udp.forward", echo.LocalEndPoint.ToString()));
        var buffer = new byte[16];
        Assert.Equal(3, await Peers.ReceiveAsync(peer, buffer, Wait, nat.UdpEndpoint));
    }
}
