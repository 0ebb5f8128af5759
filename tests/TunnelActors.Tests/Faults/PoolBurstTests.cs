using System.Diagnostics;
using System.Net;
using TunnelActors.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using TunnelActors.Tools.Demo;

namespace TunnelActors.Tests.Faults;

/// <summary>A burst of new peers on the seed deployment's NAT box: the relay's pool grows to meet it, then shrinks back.</summary>
public sealed class PoolBurstTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly UdpEcho _echo = new(new IPEndPoint(IPAddress.Loopback, 0));

    [Fact]
    public async Task A_burst_of_new_peers_gets_a_connection_each_and_the_pool_grows_for_it_then_shrinks_back()
    {
        await using var nat = await Sides.StartAsync("burst-nat", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.listen", "127.0.0.1:0"));
        await using var relay = await Sides.StartAsync("burst-relay", ("tunnel.tcp.connect", nat.TcpEndpoint.ToString()),
            ("tunnel.udp.forward", _echo.LocalEndPoint.ToString()), ("tunnel.tcp.pool-size", "2"), ("tunnel.tcp.pool-max", "32"),
            ("tunnel.tcp.pool-shrink-after", "1s"));
        Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read("burst-nat", "connections.pooled") == 2, Wait));

        var clock = Stopwatch.StartNew();
        Assert.Empty(await Peers.EchoAsync(nat.UdpEndpoint, 40, [1, 100]));
        var burst = clock.Elapsed;
        var grown = SideMetrics.Read("burst-relay", "connections.pooled");
        output.WriteLine($"40 new peers at once on a pool of 2: all answered in {burst.TotalMilliseconds:0} ms; the relay's pool then held {grown}");
        Assert.Equal(40, SideMetrics.Read("burst-nat", "sessions.active"));
        Assert.True(grown >= 8, $"the pool grew to {grown} only");

        Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read("burst-relay", "connections.pooled") == 2, Wait), "the pool did not shrink back");
        Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read("burst-nat", "connections.pooled") == 2, Wait));
        Assert.Equal(40, SideMetrics.Read("burst-nat", "sessions.active"));
        Assert.Equal(0, SideMetrics.Read("burst-nat", "drops"));
    }

    public void Dispose() => _echo.Dispose();
}
