using System.Net;
using System.Net.Sockets;
using Akka.TestKit.Xunit2;
using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors;
using TunnelActors.Configuration;
using TunnelActors.Transport;
using TunnelActors.Tools.Demo;

namespace TunnelActors.Tests.Transport;

/// <summary>The socket options Akka.IO has no setting for: on a real side's connections, and on a socket TcpTuning is given.</summary>
public sealed class SocketOptionsTests : TestKit
{
    public SocketOptionsTests() : base(TunnelConfiguration.Reference) { }

    private static readonly (string, string)[] Tuned =
    [
        ("tunnel.tcp.send-buffer", "96k"), ("tunnel.tcp.receive-buffer", "80k"), ("tunnel.tcp.notsent-lowat", "24k"), ("tunnel.tcp.user-timeout", "7s"),
        ("tunnel.tcp.keepalive.idle", "11s"), ("tunnel.tcp.keepalive.interval", "3s"), ("tunnel.tcp.keepalive.count", "4"),
    ];

    [Fact]
    public async Task A_sides_dialed_and_accepted_tunnel_connections_have_the_configured_buffers_unsent_byte_limit_user_timeout_and_keepalive()
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        await using var server = await Sides.StartAsync("tuned-server", [("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", echo.LocalEndPoint.ToString()), .. Tuned]);
        await using var client = await Sides.StartAsync("tuned-client", [("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", server.TcpEndpoint.ToString()), .. Tuned]);
        Assert.Empty(await Peers.EchoAsync(client.UdpEndpoint, 1, [1]));

        // Both sides run in this process: the ends of their connection are its descriptors, whose options the kernel reports.
        var (accepted, dialed) = SocketOptions.ConnectionsOn(server.TcpEndpoint.Port);
        Assert.Single(accepted);
        Assert.Single(dialed);
        foreach (var (end, fd) in new[] { ("accepted", accepted[0]), ("dialed", dialed[0]) })
        {
            int Option(int level, int option) => SocketOptions.Get(fd, level, option);
            // Linux reports twice the size it grants (the rest is bookkeeping).
            Assert.True(Option(SocketOptions.SolSocket, SocketOptions.SoSndBuf) == 2 * 96 * 1024, $"{end}: send buffer");
            Assert.True(Option(SocketOptions.SolSocket, SocketOptions.SoRcvBuf) == 2 * 80 * 1024, $"{end}: receive buffer");
            Assert.True(Option(SocketOptions.IpProtoTcp, SocketOptions.TcpNotSentLowWater) == 24 * 1024, $"{end}: TCP_NOTSENT_LOWAT");
            Assert.True(Option(SocketOptions.IpProtoTcp, SocketOptions.TcpUserTimeout) == 7000, $"{end}: TCP_USER_TIMEOUT");
            Assert.True(Option(SocketOptions.SolSocket, SocketOptions.SoKeepAlive) == 1, $"{end}: SO_KEEPALIVE");
            Assert.True(Option(SocketOptions.IpProtoTcp, SocketOptions.TcpKeepIdle) == 11, $"{end}: TCP_KEEPIDLE");
            Assert.True(Option(SocketOptions.IpProtoTcp, SocketOptions.TcpKeepInterval) == 3, $"{end}: TCP_KEEPINTVL");
            Assert.True(Option(SocketOptions.IpProtoTcp, SocketOptions.TcpKeepCount) == 4, $"{end}: TCP_KEEPCNT");
        }
    }

    [Fact]
    public async Task TcpTuning_sets_the_buffers_the_unsent_byte_limit_the_user_timeout_and_keepalive_on_a_socket_it_is_given()
    {
        var tcp = Sides.Configure([("tunnel.udp.listen", "127.0.0.1:1"), ("tunnel.tcp.connect", "127.0.0.1:2"), .. Tuned]).Settings.Tcp;
        var tuning = Assert.Single(TcpTuning.For(tcp));
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        tuning.BeforeConnect(socket);
        await socket.ConnectAsync(listener.LocalEndpoint);
        tuning.AfterConnect(socket);

        var fd = (int)socket.SafeHandle.DangerousGetHandle();
        Assert.Equal(2 * 96 * 1024, SocketOptions.Get(fd, SocketOptions.SolSocket, SocketOptions.SoSndBuf));
        Assert.Equal(2 * 80 * 1024, SocketOptions.Get(fd, SocketOptions.SolSocket, SocketOptions.SoRcvBuf));
        Assert.Equal(24 * 1024, SocketOptions.Get(fd, SocketOptions.IpProtoTcp, SocketOptions.TcpNotSentLowWater));
        Assert.Equal(7000, SocketOptions.Get(fd, SocketOptions.IpProtoTcp, SocketOptions.TcpUserTimeout));
        Assert.Equal(1, SocketOptions.Get(fd, SocketOptions.SolSocket, SocketOptions.SoKeepAlive));
        Assert.Equal(11, SocketOptions.Get(fd, SocketOptions.IpProtoTcp, SocketOptions.TcpKeepIdle));
    }

    [Fact]
    public void A_buffer_the_kernel_caps_is_logged_at_start_with_the_sysctl_that_raises_it()
    {
        var cap = int.Parse(File.ReadAllText("/proc/sys/net/core/rmem_max").Trim());
        var asked = (int)Math.Min(int.MaxValue / 2, 2L * cap);
        var settings = Sides.Configure(("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.listen", "127.0.0.1:0"),
            ("tunnel.udp.receive-buffer", asked.ToString())).Settings;

        EventFilter.Warning(contains: "sysctl -w net.core.rmem_max=" + asked).ExpectOne(() =>
            Sys.ActorOf(TunnelSupervisor.Props(settings), "tunnel"));
    }
}
