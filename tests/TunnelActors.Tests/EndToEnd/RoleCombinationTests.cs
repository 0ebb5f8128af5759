using System.Net;
using System.Net.Sockets;
using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors.Tools;
using TunnelActors.Tools.Demo;

namespace TunnelActors.Tests.EndToEnd;

/// <summary>
/// Both sides over real loopback sockets, for each pairing of roles, with a UDP echo server as the target.
/// The two topologies put every side role to work: UDP listen + TCP listen, TCP connect + UDP forward
/// (the seed's orientation), and UDP listen + TCP connect, TCP listen + UDP forward (mullvad's).
/// </summary>
public sealed class RoleCombinationTests
{
    private static readonly int[] Moderate = [1, 100, 1200];

    /// <summary>The UDP-listen side (where peers send) and its far side, disposed together.</summary>
    private sealed record Tunnel(TunnelSide Listen, TunnelSide Forward) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Listen.DisposeAsync();
            await Forward.DisposeAsync();
        }
    }

    private static async Task<Tunnel> SeedAsync(UdpEcho echo, string udpHost, string tcpHost, params (string, string)[] relay)
    {
        var nat = await Sides.StartAsync("nat", [("tunnel.udp.listen", $"{udpHost}:0"), ("tunnel.tcp.listen", $"{tcpHost}:0"),
            .. relay.Where(setting => setting.Item1 == "tunnel.udp.io")]);
        var far = await Sides.StartAsync("relay",
            [("tunnel.tcp.connect", Sides.At(nat.TcpEndpoint)), ("tunnel.udp.forward", Sides.At(echo.LocalEndPoint)), .. relay]);
        return new Tunnel(nat, far);
    }

    private static async Task<Tunnel> MullvadAsync(UdpEcho echo, string host, string io = "batched")
    {
        var server = await Sides.StartAsync("server", ("tunnel.tcp.listen", $"{host}:0"), ("tunnel.udp.forward", Sides.At(echo.LocalEndPoint)), ("tunnel.udp.io", io));
        var client = await Sides.StartAsync("client", ("tunnel.udp.listen", $"{host}:0"), ("tunnel.tcp.connect", Sides.At(server.TcpEndpoint)), ("tunnel.udp.io", io));
        return new Tunnel(client, server);
    }

    /// <summary>50 concurrent peers at a moderate rate, then every size up to the family's largest datagram, nothing dropped.</summary>
    private static async Task AssertCarriesAsync(Tunnel tunnel)
    {
        var largest = tunnel.Listen.UdpEndpoint.AddressFamily == AddressFamily.InterNetworkV6 ? 65527 : 65507;
        Assert.Empty(await Peers.EchoAsync(tunnel.Listen.UdpEndpoint, 50, Moderate, rounds: 3));
        Assert.Empty(await Peers.EchoInTurnAsync(tunnel.Listen.UdpEndpoint, 3, [0, 1, 1200, 9000, largest]));
        Assert.Equal(0, (await tunnel.Listen.CountersAsync()).TotalDropped);
        Assert.Equal(0, (await tunnel.Forward.CountersAsync()).TotalDropped);
    }

    private static UdpEcho Echo(string host) => new(new IPEndPoint(IPAddress.Parse(host.Trim('[', ']')), 0));

    // io: the side's own UDP sockets (batched, the default) or Akka.IO's (akka, the fallback elsewhere than 64-bit Linux).
    [Theory]
    [InlineData("127.0.0.1", "127.0.0.1", "batched")]
    [InlineData("[::1]", "127.0.0.1", "batched")] // the seed: IPv6 inside UDP, carried over IPv4
    [InlineData("[::1]", "127.0.0.1", "akka")]
    public async Task Seed_orientation_udp_listen_tcp_listen_against_tcp_connect_udp_forward(string udpHost, string tcpHost, string io)
    {
        using var echo = Echo(udpHost);
        await using var tunnel = await SeedAsync(echo, udpHost, tcpHost, ("tunnel.udp.io", io));
        await AssertCarriesAsync(tunnel);
    }

    [Theory]
    [InlineData("127.0.0.1", "batched")]
    [InlineData("[::1]", "batched")]
    [InlineData("127.0.0.1", "akka")]
    public async Task Mullvad_orientation_udp_listen_tcp_connect_against_tcp_listen_udp_forward(string host, string io)
    {
        using var echo = Echo(host);
        await using var tunnel = await MullvadAsync(echo, host, io);
        await AssertCarriesAsync(tunnel);
    }

    [Fact]
    public async Task Single_redialled_connection_with_pool_size_zero()
    {
        using var echo = Echo("127.0.0.1");
        await using var tunnel = await SeedAsync(echo, "127.0.0.1", "127.0.0.1", ("tunnel.tcp.pool-size", "0"));
        Assert.Empty(await Peers.EchoAsync(tunnel.Listen.UdpEndpoint, 1, [0, 1, 1200, 9000, 65507], rounds: 3));
    }
}
