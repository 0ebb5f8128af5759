using System.Net;
using TunnelActors.Demo;
using TunnelActors.Tests.Support;
using Xunit;

namespace TunnelActors.Tests.EndToEnd;

/// <summary>
/// Both sides over real loopback sockets, for each pairing of roles, with a UDP echo server as the target.
/// The two topologies put every side role to work: UDP listen + TCP listen, TCP connect + UDP forward,
/// UDP listen + TCP connect, TCP listen + UDP forward.
/// </summary>
public sealed class RoleCombinationTests
{
    private static readonly int[] AllSizes = [0, 1, 1200, 9000, 65507];
    private static readonly int[] Moderate = [1, 100, 1200];

    [Fact]
    public async Task Seed_orientation_udp_listen_tcp_listen_against_tcp_connect_udp_forward()
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        await using var nat = await Sides.StartAsync("nat", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.listen", "127.0.0.1:0"));
        await using var relay = await Sides.StartAsync("relay",
            ("tunnel.tcp.connect", Sides.At(nat.TcpEndpoint)), ("tunnel.udp.forward", Sides.At(echo.LocalEndPoint)));

        Assert.Empty(await Peers.EchoAsync(nat.UdpEndpoint, 50, Moderate, rounds: 4));
        Assert.Empty(await Peers.EchoInTurnAsync(nat.UdpEndpoint, 5, AllSizes));
        Assert.Equal(0, (await nat.CountersAsync()).TotalDropped);
    }

    [Fact]
    public async Task Mullvad_orientation_udp_listen_tcp_connect_against_tcp_listen_udp_forward()
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        await using var server = await Sides.StartAsync("server",
            ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", Sides.At(echo.LocalEndPoint)));
        await using var client = await Sides.StartAsync("client",
            ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", Sides.At(server.TcpEndpoint)));

        Assert.Empty(await Peers.EchoAsync(client.UdpEndpoint, 50, Moderate, rounds: 4));
        Assert.Empty(await Peers.EchoInTurnAsync(client.UdpEndpoint, 5, AllSizes));
        Assert.Equal(0, (await client.CountersAsync()).TotalDropped);
        Assert.Equal(0, (await server.CountersAsync()).TotalDropped);
    }

    [Fact]
    public async Task Single_redialled_connection_with_pool_size_zero()
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        await using var nat = await Sides.StartAsync("nat", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.listen", "127.0.0.1:0"));
        await using var relay = await Sides.StartAsync("relay", ("tunnel.tcp.pool-size", "0"),
            ("tunnel.tcp.connect", Sides.At(nat.TcpEndpoint)), ("tunnel.udp.forward", Sides.At(echo.LocalEndPoint)));

        Assert.Empty(await Peers.EchoAsync(nat.UdpEndpoint, 1, AllSizes, rounds: 3));
    }

    [Fact]
    public async Task Everything_over_IPv6()
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.IPv6Loopback, 0));
        await using var server = await Sides.StartAsync("server",
            ("tunnel.tcp.listen", "[::1]:0"), ("tunnel.udp.forward", Sides.At(echo.LocalEndPoint)));
        await using var client = await Sides.StartAsync("client",
            ("tunnel.udp.listen", "[::1]:0"), ("tunnel.tcp.connect", Sides.At(server.TcpEndpoint)));

        Assert.Empty(await Peers.EchoAsync(client.UdpEndpoint, 50, Moderate, rounds: 2));
        Assert.Empty(await Peers.EchoInTurnAsync(client.UdpEndpoint, 3, [0, 1, 1200, 9000, 65527]));
    }

    [Fact]
    public async Task IPv6_datagrams_over_an_IPv4_tunnel()
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.IPv6Loopback, 0));
        await using var nat = await Sides.StartAsync("nat", ("tunnel.udp.listen", "[::1]:0"), ("tunnel.tcp.listen", "127.0.0.1:0"));
        await using var relay = await Sides.StartAsync("relay",
            ("tunnel.tcp.connect", Sides.At(nat.TcpEndpoint)), ("tunnel.udp.forward", Sides.At(echo.LocalEndPoint)));

        Assert.Empty(await Peers.EchoAsync(nat.UdpEndpoint, 50, Moderate, rounds: 2));
        Assert.Empty(await Peers.EchoInTurnAsync(nat.UdpEndpoint, 3, AllSizes));
    }
}
