using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using TunnelActors.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using TunnelActors.Tools;
using TunnelActors.Tools.Demo;

namespace TunnelActors.Tests.Faults;

/// <summary>
/// The link between the sides fails: the far side runs in a network namespace of the test's own, and the
/// link to it is taken down (<c>ip link set … down</c>). Asserted on the near side's metrics.
/// </summary>
public sealed class LinkFailureTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private sealed record Pair(NetworkNamespace Ns, SideProcess Server, TunnelSide Client, UdpEcho Echo) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Client.DisposeAsync();
            await Server.DisposeAsync();
            await Ns.DisposeAsync();
            Echo.Dispose();
        }
    }

    /// <summary>The TCP server and its target in the namespace; the client here, dialing across the link.</summary>
    private static async Task<Pair> StartAsync(string name, params (string, string)[] clientSettings)
    {
        var ns = await NetworkNamespace.CreateAsync();
        var echo = new UdpEcho(new IPEndPoint(ns.HostAddress, 0));
        var server = SideProcess.StartIn(ns, "--tcp-listen", $"{ns.NamespaceAddress}:0", "--udp-forward", echo.LocalEndPoint.ToString());
        var port = await server.TcpPortAsync();
        var client = await Sides.StartAsync(name, [("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", $"{ns.NamespaceAddress}:{port}"),
            ("tunnel.tcp.reconnect.min-backoff", "200ms"), ("tunnel.tcp.reconnect.max-backoff", "1s"), .. clientSettings]);
        return new Pair(ns, server, client, echo);
    }

    [NamespaceFact]
    public async Task A_link_down_for_5_s_keeps_every_session_and_delivers_what_was_sent_meanwhile()
    {
        await using var pair = await StartAsync("link-flap");
        using var peer = new NumberedPeer(pair.Client.UdpEndpoint);
        await peer.SendAsync(0, 20);
        Assert.True(await BoundSockets.EventuallyAsync(() => peer.Received(0, 20) == 20, Wait), "echoes before the outage");

        await pair.Ns.SetLinkAsync(up: false);
        var down = Stopwatch.StartNew();
        for (var n = 20; n < 70; n++)
        {
            await peer.SendAsync(n, 1);
            await Task.Delay(TimeSpan.FromMilliseconds(100)); // paced across the outage, as a real peer sends
        }
        while (down.Elapsed < TimeSpan.FromSeconds(5)) await Task.Delay(TimeSpan.FromMilliseconds(50));
        await pair.Ns.SetLinkAsync(up: true);
        var back = Stopwatch.StartNew();

        Assert.True(await BoundSockets.EventuallyAsync(() => peer.Received(20, 50) == 50, Wait),
            $"sent during the outage and echoed: {peer.Received(20, 50)} of 50");
        output.WriteLine($"link down {down.Elapsed.TotalSeconds - back.Elapsed.TotalSeconds:0.0} s; all 50 datagrams sent during it echoed " +
                         $"{back.Elapsed.TotalSeconds:0.0} s after it came back; sessions ended {SideMetrics.Read("link-flap", "sessions.ended")}, " +
                         $"connections closed {SideMetrics.Read("link-flap", "connections.closed")}, drops {SideMetrics.Read("link-flap", "drops")}");
        Assert.Equal(0, SideMetrics.Read("link-flap", "sessions.ended"));
        Assert.Equal(1, SideMetrics.Read("link-flap", "sessions.active"));
        Assert.Equal(0, SideMetrics.Read("link-flap", "drops"));
    }

    [NamespaceFact]
    public async Task A_link_that_stays_down_is_noticed_within_the_user_timeout_while_data_waits_unacknowledged()
    {
        await using var pair = await StartAsync("link-dead", ("tunnel.tcp.user-timeout", "3s"), ("tunnel.tcp.keepalive.idle", "60s"),
            ("tunnel.session.reconnect-grace", "2s"));
        using var peer = new NumberedPeer(pair.Client.UdpEndpoint);
        await peer.SendAsync(0, 5);
        Assert.True(await BoundSockets.EventuallyAsync(() => peer.Received(0, 5) == 5, Wait));

        await pair.Ns.SetLinkAsync(up: false);
        var down = Stopwatch.StartNew();
        await peer.SendAsync(5, 5);
        Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read("link-dead", "connections.closed") == 1, TimeSpan.FromSeconds(20)),
            "the dead connection was not noticed");
        var noticed = down.Elapsed;
        Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read("link-dead", "sessions.ended", ("reason", "connection-lost")) == 1, Wait));
        output.WriteLine($"user-timeout 3 s: the dead link was noticed {noticed.TotalSeconds:0.0} s after it went down; " +
                         $"the session ended {down.Elapsed.TotalSeconds:0.0} s after it (reconnect-grace 2 s, no route meanwhile)");
        Assert.InRange(noticed, TimeSpan.FromSeconds(2.5), TimeSpan.FromSeconds(8));
    }

    [NamespaceFact]
    public async Task Keepalive_notices_an_idle_connection_whose_link_died()
    {
        // Without a user timeout: with one, Linux closes a connection whose keepalive probes fail only once that timeout has passed.
        await using var pair = await StartAsync("link-idle", ("tunnel.tcp.keepalive.idle", "1s"), ("tunnel.tcp.keepalive.interval", "1s"),
            ("tunnel.tcp.keepalive.count", "2"), ("tunnel.tcp.user-timeout", "0"), ("tunnel.session.reconnect-grace", "1s"));
        using var peer = new NumberedPeer(pair.Client.UdpEndpoint);
        await peer.SendAsync(0, 1);
        Assert.True(await BoundSockets.EventuallyAsync(() => peer.Received(0, 1) == 1, Wait));

        await pair.Ns.SetLinkAsync(up: false);
        var down = Stopwatch.StartNew();
        Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read("link-idle", "connections.closed") == 1, TimeSpan.FromSeconds(20)),
            "the dead idle connection was not noticed");
        output.WriteLine($"keepalive 1 s + 2 × 1 s: the idle connection's dead link was noticed {down.Elapsed.TotalSeconds:0.0} s after it went down");
        Assert.InRange(down.Elapsed, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(10));
    }

    [NamespaceFact]
    public async Task A_pooled_connection_whose_link_died_leaves_the_pool_and_is_replaced_never_leased()
    {
        // The seed deployment: the NAT box here, the relay host in the namespace, keepalive quick on both.
        (string, string)[] keepalive = [("tunnel.tcp.keepalive.idle", "1s"), ("tunnel.tcp.keepalive.interval", "1s"),
            ("tunnel.tcp.keepalive.count", "2"), ("tunnel.tcp.user-timeout", "0")];
        await using var ns = await NetworkNamespace.CreateAsync();
        using var echo = new UdpEcho(new IPEndPoint(ns.HostAddress, 0));
        await using var nat = await Sides.StartAsync("pool-dead", [("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.listen", $"{ns.HostAddress}:0"), .. keepalive]);
        using var config = new TempFile(string.Join('\n', "tunnel.tcp.keepalive.idle = 1s", "tunnel.tcp.keepalive.interval = 1s",
            "tunnel.tcp.keepalive.count = 2", "tunnel.tcp.user-timeout = 0", "tunnel.tcp.reconnect.min-backoff = 200ms", "tunnel.tcp.reconnect.max-backoff = 1s"));
        await using var relay = SideProcess.StartIn(ns, "--tcp-connect", nat.TcpEndpoint.ToString(), "--udp-forward", echo.LocalEndPoint.ToString(),
            "--pool-size", "2", "--config", config.Path);
        Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read("pool-dead", "connections.pooled") == 2, Wait), relay.Log);

        await ns.SetLinkAsync(up: false);
        Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read("pool-dead", "connections.pooled") == 0, Wait),
            "the dead pooled connections stayed in the pool");
        await ns.SetLinkAsync(up: true);
        Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read("pool-dead", "connections.pooled") == 2, Wait),
            "the relay host did not replace them");

        // A new peer is handed a live connection at once: it never has to move to another.
        Assert.Empty(await Peers.EchoAsync(nat.UdpEndpoint, 2, [1, 100]));
        Assert.Equal(0, SideMetrics.Read("pool-dead", "sessions.reconnected"));
        Assert.True(SideMetrics.Read("pool-dead", "connections.closed") >= 2);
    }
}
