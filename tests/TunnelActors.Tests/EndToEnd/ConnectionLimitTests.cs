using System.Net;
using System.Net.Sockets;
using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors.Auth;
using TunnelActors.Tools;
using TunnelActors.Tools.Demo;

namespace TunnelActors.Tests.EndToEnd;

/// <summary>Accepted tunnel connections: in total, per source address, per second; asserted on the side's metrics.</summary>
public sealed class ConnectionLimitTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly UdpEcho _echo = new(new IPEndPoint(IPAddress.Loopback, 0));
    private readonly List<Socket> _connections = [];

    private Task<TunnelSide> ServerAsync(string name, params (string, string)[] settings) =>
        Sides.StartAsync(name, [("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", _echo.LocalEndPoint.ToString()), .. settings]);

    /// <summary>Opens <paramref name="count"/> connections from <paramref name="from"/> and keeps them open.</summary>
    private async Task OpenAsync(IPEndPoint server, string from, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            _connections.Add(socket);
            socket.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
            try { await socket.ConnectAsync(server); } catch (SocketException) { } // refused while connecting
        }
    }

    private static long Refused(string side, string reason) => SideMetrics.Read(side, "connections.refused", ("reason", reason));

    [Fact]
    public async Task Connections_beyond_the_per_source_cap_are_refused_and_other_sources_still_get_in()
    {
        await using var server = await ServerAsync("per-source", ("tunnel.tcp.max-connections-per-source", "3"));
        await OpenAsync(server.TcpEndpoint, "127.0.0.7", 5);
        Assert.True(await BoundSockets.EventuallyAsync(() => Refused("per-source", "source-limit") == 2, Wait));
        await OpenAsync(server.TcpEndpoint, "127.0.0.8", 3);
        Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read("per-source", "connections.opened") == 6, Wait));
        Assert.Equal(2, Refused("per-source", "source-limit"));
    }

    [Fact]
    public async Task Connections_beyond_the_side_cap_are_refused()
    {
        await using var server = await ServerAsync("side-cap", ("tunnel.tcp.max-connections", "2"));
        await OpenAsync(server.TcpEndpoint, "127.0.0.7", 2);
        await OpenAsync(server.TcpEndpoint, "127.0.0.8", 2);
        Assert.True(await BoundSockets.EventuallyAsync(() => Refused("side-cap", "side-limit") == 2, Wait));
        Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read("side-cap", "connections.active") == 2, Wait));
    }

    [Fact]
    public async Task New_connections_beyond_the_rate_are_refused()
    {
        await using var server = await ServerAsync("rate", ("tunnel.tcp.new-connections-per-second", "3"));
        await OpenAsync(server.TcpEndpoint, "127.0.0.7", 10);
        Assert.True(await BoundSockets.EventuallyAsync(() => Refused("rate", "rate-limit") + SideMetrics.Read("rate", "connections.opened") == 10, Wait));
        Assert.InRange(Refused("rate", "rate-limit"), 1, 7);
    }

    [Fact]
    public async Task On_a_keyed_nat_box_the_relays_proven_connections_do_not_count_against_its_address()
    {
        using var key = new TempFile(PreSharedKey.Generate());
        await using var nat = await Sides.StartAsync("keyed-nat", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.listen", "127.0.0.1:0"),
            ("tunnel.auth.psk-file", key.Path), ("tunnel.tcp.max-connections-per-source", "2"));
        await using var relay = await Sides.StartAsync("keyed-relay", ("tunnel.tcp.connect", nat.TcpEndpoint.ToString()),
            ("tunnel.udp.forward", _echo.LocalEndPoint.ToString()), ("tunnel.auth.psk-file", key.Path), ("tunnel.tcp.pool-size", "2"),
            ("tunnel.tcp.pool-max", "2")); // at most two handshakes at once, within the cap
        // Eight peers, one connection each, all from the relay's one address.
        Assert.Empty(await Peers.EchoAsync(nat.UdpEndpoint, 8, [1, 100]));
        Assert.Equal(0, Refused("keyed-nat", "source-limit"));
        Assert.True(SideMetrics.Read("keyed-nat", "connections.opened", ("origin", "accepted")) >= 8);
    }

    public void Dispose()
    {
        foreach (var connection in _connections) connection.Dispose();
        _echo.Dispose();
    }
}
