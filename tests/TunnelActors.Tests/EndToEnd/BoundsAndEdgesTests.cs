using System.Buffers;
using System.Net;
using System.Net.Sockets;
using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors.Framing;
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
        await peer.SendToAsync(datagram, client.UdpEndpoint);
        using var connection = await Connections.AcceptAsync(stalled);
        for (var i = 1; i < sent; i++)
        {
            BitConverter.TryWriteBytes(datagram, i);
            datagram[^1] = (byte)i;
            await peer.SendToAsync(datagram, client.UdpEndpoint);
        }

        // Every datagram the side took in is either queued for the stalled connection or dropped; wait until
        // the UDP side has drained (the counts stop moving), then read what the connection carries.
        var counters = await client.CountersAsync();
        var last = -1L;
        Assert.True(await BoundSockets.EventuallyAsync(() =>
        {
            var now = counters.ToTcpDatagrams + counters.TotalDropped;
            var settled = now == last;
            last = now;
            return settled;
        }, Wait, poll: TimeSpan.FromMilliseconds(200)));
        Assert.True(counters.Dropped(DropReason.TcpSendQueueFull) > 0, $"nothing was dropped: {counters}");

        // What was written is a clean sequence of whole frames, each datagram intact.
        var stream = connection.GetStream();
        var received = new ArrayBufferWriter<byte>();
        var buffer = new byte[65536];
        while (received.WrittenCount < counters.ToTcpBytes + 2 * counters.ToTcpDatagrams)
        {
            using var timeout = new CancellationTokenSource(Wait);
            var read = await stream.ReadAsync(buffer, timeout.Token);
            if (read == 0) break;
            received.Write(buffer.AsSpan(0, read));
        }
        var frames = received.WrittenSpan;
        var count = 0;
        while (LengthPrefixedCodec.Instance.TryRead(ref frames, out var payload))
        {
            var bytes = payload.ToArray();
            Assert.Equal(1200, bytes.Length);
            Assert.Equal((byte)BitConverter.ToInt32(bytes), bytes[^1]);
            count++;
        }
        Assert.True(frames.IsEmpty);
        Assert.Equal(counters.ToTcpDatagrams, count);
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
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        var port = BoundSockets.FreeUdpPort();
        await using var server = await Sides.StartAsync("server", ("tunnel.tcp.listen", "127.0.0.1:0"),
            ("tunnel.udp.forward", echo.LocalEndPoint.ToString()), ("tunnel.udp.forward-bind", $"127.0.0.1:{port}"));
        await using var client = await Sides.StartAsync("client", ("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", server.TcpEndpoint.ToString()));

        using var first = Peers.Bind(AddressFamily.InterNetwork);
        using var second = Peers.Bind(AddressFamily.InterNetwork);
        var buffer = new byte[64];
        await first.SendToAsync(new byte[] { 1 }, client.UdpEndpoint);
        Assert.Equal(1, await Peers.ReceiveAsync(first, buffer, Wait, client.UdpEndpoint));

        // The second session cannot bind the same port: it ends, releasing its connection, and the first goes on.
        await second.SendToAsync(new byte[] { 2 }, client.UdpEndpoint);
        Assert.Null(await Peers.ReceiveAsync(second, buffer, TimeSpan.FromMilliseconds(500), client.UdpEndpoint));
        await first.SendToAsync(new byte[] { 3 }, client.UdpEndpoint);
        Assert.Equal(1, await Peers.ReceiveAsync(first, buffer, Wait, client.UdpEndpoint));
        Assert.Equal(3, buffer[0]);
        Assert.Equal(1, BoundSockets.Udp(port));
    }

    [Fact]
    public async Task A_host_name_to_dial_is_kept_as_a_name_and_dialled()
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        await using var nat = await Sides.StartAsync("nat", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.listen", "127.0.0.1:0"));
        await using var relay = await Sides.StartAsync("relay",
            ("tunnel.tcp.connect", $"localhost:{nat.TcpEndpoint.Port}"), ("tunnel.udp.forward", echo.LocalEndPoint.ToString()));
        await using var server = await Sides.StartAsync("server", ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", echo.LocalEndPoint.ToString()));
        await using var client = await Sides.StartAsync("client", ("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", $"localhost:{server.TcpEndpoint.Port}"));

        Assert.IsType<DnsEndPoint>(Sides.Configure(("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", "localhost:9")).Settings.Tcp.DialTarget);
        Assert.Empty(await Peers.EchoAsync(nat.UdpEndpoint, 3, [1, 1200]));
        Assert.Empty(await Peers.EchoAsync(client.UdpEndpoint, 3, [1, 1200]));
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
