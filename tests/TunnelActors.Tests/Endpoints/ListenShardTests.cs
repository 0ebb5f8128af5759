using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using TunnelActors.Endpoints;
using TunnelActors.Tests.Support;
using TunnelActors.Tools;
using TunnelActors.Tools.Demo;
using Xunit;

namespace TunnelActors.Tests.Endpoints;

/// <summary>
/// The UDP-listen port shared by one socket per receive thread (<c>tunnel.udp.receive-threads</c>): the kernel spreads
/// the peers over them, each peer stays on its own, and each still gets exactly its own replies, in order.
/// </summary>
public sealed class ListenShardTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private const int Threads = 3;

    [Fact]
    public async Task Peers_are_spread_over_the_sockets_and_each_gets_its_own_replies_in_order_from_the_first_datagram()
    {
        // All bursts at once: the echo's default receive buffer would overflow.
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0), receiveBuffer: 4 << 20);
        await using var server = await Sides.StartAsync("shards-server", ("tunnel.tcp.listen", "127.0.0.1:0"),
            ("tunnel.udp.forward", echo.LocalEndPoint.ToString()), ("tunnel.udp.receive-threads", $"{Threads}"));
        await using var client = await Sides.StartAsync("shards-client", ("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", server.TcpEndpoint.ToString()), ("tunnel.udp.receive-threads", $"{Threads}"));
        Assert.Equal(Threads, BoundSockets.Udp(client.UdpEndpoint.Port));

        // Each new peer sends a burst at once: its first datagrams go through the endpoint, which starts its session,
        // the rest straight to the session once the endpoint has answered for those; none may overtake another.
        const int peers = 24, burst = 30;
        var failures = await Task.WhenAll(Enumerable.Range(0, peers).Select(id => BurstAsync(client.UdpEndpoint, id, burst)));
        Assert.True(failures.All(f => f is null), string.Join("; ", failures.Where(f => f is not null)) +
            $"; client {await client.CountersAsync()}; server {await server.CountersAsync()}; " +
            $"echo socket drops {BoundSockets.UdpSocketDrops(Environment.ProcessId, echo.LocalEndPoint.Port)}");

        var perThread = Enumerable.Range(0, Threads)
            .Select(i => SideMetrics.Read(client.System.Name, "udp.received", ("thread", $"udp-receive-{i}"))).ToList();
        Assert.Equal(peers * burst, perThread.Sum());
        Assert.True(perThread.Count(n => n > 0) >= 2, $"datagrams per receive thread: {string.Join(", ", perThread)}");
    }

    [Fact]
    public async Task A_socket_that_fails_is_started_again_on_the_same_port_and_the_others_go_on()
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        await using var server = await Sides.StartAsync("shard-restart-server", ("tunnel.tcp.listen", "127.0.0.1:0"),
            ("tunnel.udp.forward", echo.LocalEndPoint.ToString()));
        await using var client = await Sides.StartAsync("shard-restart-client", ("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", server.TcpEndpoint.ToString()), ("tunnel.udp.receive-threads", $"{Threads}"));
        var port = client.UdpEndpoint.Port;
        Assert.Empty(await Peers.EchoAsync(client.UdpEndpoint, 12, [1, 1200]));
        var before = BoundSockets.UdpInodes(port);

        var shard = await client.System.ActorSelection($"/user/tunnel/{UdpListenEndpoint.Name}/socket-1").ResolveOne(Wait);
        shard.Tell(Kill.Instance);

        Assert.True(await BoundSockets.EventuallyAsync(() => BoundSockets.UdpInodes(port) is { Count: Threads } now && now.Except(before).Count() == 1, Wait),
            $"sockets on the port: {string.Join(", ", BoundSockets.UdpInodes(port))}, before {string.Join(", ", before)}");
        Assert.Empty(await Peers.EchoAsync(client.UdpEndpoint, 12, [1, 1200]));
    }

    [Fact]
    public async Task A_port_another_socket_shares_with_SO_REUSEPORT_stops_the_start_with_a_reason()
    {
        // What a second side of the same user on the same port would be: a socket that takes a share of the peers.
        using var stranger = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        stranger.SetRawSocketOption(1, 15, BitConverter.GetBytes(1));
        stranger.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)stranger.LocalEndPoint!).Port;

        var e = await Assert.ThrowsAsync<TunnelStartException>(() => Sides.StartAsync("shared-port", ("tunnel.udp.listen", $"127.0.0.1:{port}"),
            ("tunnel.tcp.connect", "127.0.0.1:9"), ("tunnel.udp.receive-threads", $"{Threads}")));
        Assert.Contains("share the port (SO_REUSEPORT)", e.Message);
        Assert.True(await BoundSockets.EventuallyAsync(() => BoundSockets.Udp(port) == 1, Wait), "the side's sockets stayed bound");
    }

    /// <summary>Sends <paramref name="count"/> numbered datagrams at once and expects them all back, in order; null when they were.</summary>
    private static async Task<string?> BurstAsync(IPEndPoint tunnel, int id, int count)
    {
        using var socket = Peers.Bind(AddressFamily.InterNetwork);
        var payload = new byte[64];
        BitConverter.TryWriteBytes(payload, id);
        for (var seq = 0; seq < count; seq++)
        {
            BitConverter.TryWriteBytes(payload.AsSpan(4), seq);
            await socket.SendToAsync(payload, tunnel);
        }
        var buffer = new byte[65536];
        for (var expected = 0; expected < count; expected++)
        {
            if (await Peers.ReceiveAsync(socket, buffer, Wait, tunnel) is not { } length) return $"peer {id}: {expected} of {count} came back";
            var (peer, seq) = (BitConverter.ToInt32(buffer, 0), BitConverter.ToInt32(buffer, 4));
            if (length != payload.Length || peer != id || seq != expected) return $"peer {id}: datagram {expected} came back as peer {peer}'s {seq}";
        }
        return null;
    }
}
