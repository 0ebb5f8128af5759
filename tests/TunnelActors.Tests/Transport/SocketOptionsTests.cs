using System.Net;
using System.Net.Sockets;
using Akka.TestKit.Xunit2;
using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors;
using TunnelActors.Configuration;
using TunnelActors.Transport;

namespace TunnelActors.Tests.Transport;

/// <summary>The socket options Akka.IO has no setting for, on real sockets.</summary>
public sealed class SocketOptionsTests : TestKit
{
    public SocketOptionsTests() : base(TunnelConfiguration.Reference) { }

    [Fact]
    public async Task Tcp_buffers_the_unsent_byte_limit_and_the_user_timeout_are_applied_to_a_connection()
    {
        var tcp = Sides.Configure(("tunnel.udp.listen", "127.0.0.1:1"), ("tunnel.tcp.connect", "127.0.0.1:2"),
            ("tunnel.tcp.send-buffer", "96k"), ("tunnel.tcp.receive-buffer", "80k"), ("tunnel.tcp.notsent-lowat", "24k"),
            ("tunnel.tcp.user-timeout", "7s")).Settings.Tcp;
        var tuning = Assert.Single(TcpTuning.For(tcp));
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        tuning.BeforeConnect(socket);
        await socket.ConnectAsync(listener.LocalEndpoint);
        tuning.AfterConnect(socket);

        // Linux reports twice the size it grants (the rest is bookkeeping).
        Assert.Equal(2 * 96 * 1024, socket.SendBufferSize);
        Assert.Equal(2 * 80 * 1024, socket.ReceiveBufferSize);
        var lowWater = new byte[4];
        socket.GetRawSocketOption((int)SocketOptionLevel.Tcp, 25, lowWater);
        Assert.Equal(24 * 1024, BitConverter.ToInt32(lowWater));
        var userTimeout = new byte[4];
        socket.GetRawSocketOption((int)SocketOptionLevel.Tcp, 18, userTimeout);
        Assert.Equal(7000, BitConverter.ToInt32(userTimeout));
        Assert.NotEqual(0, (int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive)!);
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
