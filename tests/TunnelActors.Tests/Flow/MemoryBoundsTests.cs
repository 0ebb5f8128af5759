using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;
using TunnelActors.Configuration;
using TunnelActors.Flow;
using TunnelActors.Observability;
using TunnelActors.Tests.Support;
using TunnelActors.Tools.Demo;
using Xunit;

namespace TunnelActors.Tests.Flow;

/// <summary>A side's memory stays within its settings, embedded in someone else's actor system or after a peak.</summary>
public sealed class MemoryBoundsTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Embedded_in_an_actor_system_configured_without_the_tunnel_block_a_side_keeps_its_queues_within_its_queue_memory()
    {
        // The host application's actor system knows the side's mailboxes and nothing else of the tunnel block.
        var system = ActorSystem.Create("embedding", ConfigurationFactory.ParseString("""
            akka.loglevel = WARNING
            tunnel.mailbox {
              ingress { mailbox-type = "TunnelActors.Transport.DatagramMailbox, TunnelActors.Core", queue-limit = 4 MiB }
              connection { mailbox-type = "TunnelActors.Transport.DatagramMailbox, TunnelActors.Core", queue-limit = 256 KiB }
            }
            """));
        using var stalled = new TcpListener(IPAddress.Loopback, 0);
        stalled.Start();
        try
        {
            var settings = Sides.Configure(("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", stalled.LocalEndpoint.ToString()!),
                ("tunnel.queue-memory", "128 KiB"), ("tunnel.tcp.max-queue-delay", "0")).Settings;
            var supervisor = system.ActorOf(TunnelSupervisor.Props(settings), "tunnel");
            var ready = Assert.IsType<TunnelSupervisor.Ready>(await supervisor.Ask<object>(TunnelSupervisor.AwaitReady.Instance, Wait));
            var side = SideResources.For(system);
            Assert.Equal(128 * 1024, side.Budget.Limit);

            // A far side that takes the connection and never reads: what one peer sends waits in this side's queues.
            using var peer = Peers.Bind(AddressFamily.InterNetwork);
            var tunnel = (IPEndPoint)ready.Endpoints["udp"];
            await peer.SendToAsync(new byte[1200], tunnel);
            using var connection = await stalled.AcceptTcpClientAsync(new CancellationTokenSource(Wait).Token);
            var peak = 0L;
            for (var i = 0; i < 2000; i++)
            {
                await peer.SendToAsync(new byte[1200], tunnel);
                peak = Math.Max(peak, side.Budget.Used);
            }
            Assert.True(await BoundSockets.EventuallyAsync(() => side.Counters.Dropped(DropReason.SideMemoryFull) > 0, Wait),
                $"nothing was dropped for the side's memory: {side.Counters}");
            Assert.True(peak <= 128 * 1024, $"the queues held {peak} B");
        }
        finally
        {
            await system.Terminate();
        }
    }

    [Fact]
    public async Task After_a_peak_of_flows_the_forward_side_gives_its_receive_buffers_back()
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        // Akka.IO's sockets (the side's own share one block of receive buffers, whatever the number of flows).
        await using var server = await Sides.StartAsync("peak-server", ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", echo.LocalEndPoint.ToString()),
            ("tunnel.udp.io", "akka"));
        var buffers = SideResources.For(server.System).ReceiveBuffers;
        await using (var client = await Sides.StartAsync("peak-client", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", server.TcpEndpoint.ToString())))
        {
            // 300 peers: 300 flows, each with a socket and a receive buffer of 64 KiB outstanding.
            Assert.Empty(await Peers.EchoAsync(client.UdpEndpoint, 300, [1]));
            Assert.True(buffers.InUse >= 300 * 65536, $"{buffers.InUse} B in use");
        }
        // The client has gone, so have the flows: what their sockets held is not all kept.
        Assert.True(await BoundSockets.EventuallyAsync(() => SideResources.For(server.System).Sessions.Active == 0, Wait));
        Assert.True(await BoundSockets.EventuallyAsync(() => buffers.InUse <= 65536, Wait), $"{buffers.InUse} B still in use");
        Assert.True(buffers.Free <= 64 * 65536, $"{buffers.Free} B kept free after the peak");
    }
}
