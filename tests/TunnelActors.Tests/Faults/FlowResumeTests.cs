using System.Net;
using TunnelActors.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using TunnelActors.Auth;

namespace TunnelActors.Tests.Faults;

/// <summary>
/// The tunnel's TCP connection is cut (reset both ways) while both sides stay up: with a key, the flow the peer
/// had goes on over the next connection from the same forward socket, so the target sees one source throughout,
/// as it would for a peer talking to it directly.
/// </summary>
public sealed class FlowResumeTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly TempFile _key = new(PreSharedKey.Generate());
    private readonly UdpTarget _target = new();

    private (string, string) Key => ("tunnel.auth.psk-file", _key.Path);

    private static readonly (string, string)[] QuickRedial =
        [("tunnel.tcp.reconnect.min-backoff", "100ms"), ("tunnel.tcp.reconnect.max-backoff", "200ms")];

    [Fact]
    public async Task Seed_orientation_a_cut_connection_keeps_the_peers_forward_source()
    {
        await using var nat = await Sides.StartAsync("resume-nat", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.listen", "127.0.0.1:0"), Key);
        await using var proxy = new CuttableProxy(nat.TcpEndpoint);
        await using var relay = await Sides.StartAsync("resume-relay", [("tunnel.tcp.connect", proxy.Endpoint.ToString()),
            ("tunnel.udp.forward", _target.LocalEndPoint.ToString()), ("tunnel.tcp.pool-size", "2"), Key, .. QuickRedial]);
        await RunAcrossCutAsync(nat.UdpEndpoint, proxy);
    }

    [Fact]
    public async Task Mullvad_orientation_a_cut_connection_keeps_the_peers_forward_source()
    {
        await using var server = await Sides.StartAsync("resume-server", ("tunnel.tcp.listen", "127.0.0.1:0"),
            ("tunnel.udp.forward", _target.LocalEndPoint.ToString()), Key);
        await using var proxy = new CuttableProxy(server.TcpEndpoint);
        await using var client = await Sides.StartAsync("resume-client", [("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", proxy.Endpoint.ToString()), Key, .. QuickRedial]);
        await RunAcrossCutAsync(client.UdpEndpoint, proxy);
    }

    /// <summary>One peer at 20 datagrams a second for six seconds, the connection cut after two.</summary>
    private async Task RunAcrossCutAsync(IPEndPoint tunnel, CuttableProxy proxy)
    {
        using var peer = new NumberedPeer(tunnel);
        const int total = 120, cutAt = 40;
        for (var n = 0; n < total; n++)
        {
            if (n == cutAt)
            {
                Assert.True(await BoundSockets.EventuallyAsync(() => peer.Received(0, cutAt) == cutAt, Wait), "echoes before the cut");
                Assert.True(proxy.CutAll() > 0, "no connection to cut");
            }
            await peer.SendAsync(n, 1);
            await Task.Delay(TimeSpan.FromMilliseconds(50)); // paced across the cut, as a real peer sends
        }
        await BoundSockets.EventuallyAsync(() => peer.Received(0, total) == total, Wait);
        var sources = _target.Sources;
        output.WriteLine($"{peer.Received(0, total)} of {total} echoed; the target saw {sources.Count} source(s): " +
                         string.Join(", ", sources.Select(s => $"{s.Key} ({s.Value})")));
        Assert.True(proxy.Accepted >= 2, "the sides never made a second connection");
        Assert.Single(sources);
        // A datagram on the wire at the instant of the reset is lost, as it would be on any path that breaks.
        Assert.InRange(peer.Received(0, total), total - 1, total);
    }

    public void Dispose()
    {
        _target.Dispose();
        _key.Dispose();
    }
}
