using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using Akka.TestKit.Xunit2;
using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors;
using TunnelActors.Configuration;
using TunnelActors.Flow;
using TunnelActors.Observability;
using TunnelActors.Transport;
using TunnelActors.Tools.Demo;
using TunnelActors.Tools.Bench;

namespace TunnelActors.Tests.Faults;

/// <summary>
/// A session that ends writes what it holds and closes its connection with FIN, in either orientation, and
/// its endpoint stops routing to it first: no datagram goes to a dead letter.
/// </summary>
public sealed class SessionEndTests : TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    public SessionEndTests() : base(TunnelConfiguration.Reference) { }

    [Fact]
    public async Task An_idle_session_on_the_udp_listen_side_writes_what_it_holds_then_closes_with_fin()
    {
        using var far = new TcpListener(IPAddress.Loopback, 0);
        far.Start();
        await using var side = await Sides.StartAsync("fin-listen", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", far.LocalEndpoint.ToString()!),
            ("tunnel.session.idle-timeout", "1s"), ("tunnel.session.unanswered-timeout", "0"));
        using var peer = Peers.Bind(AddressFamily.InterNetwork);
        await peer.SendToAsync(new byte[] { 1, 2, 3 }, side.UdpEndpoint);
        using var accepted = await Connections.AcceptAsync(far);

        Assert.Equal(new byte[] { 0, 3, 1, 2, 3 }, await ReadToFinAsync(accepted.Client));
        // The session stops just after its connection's FIN.
        Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read("fin-listen", "sessions.ended", ("reason", "idle")) == 1, Wait));
    }

    [Fact]
    public async Task An_idle_session_on_the_forward_side_writes_what_it_holds_then_closes_with_fin()
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        await using var side = await Sides.StartAsync("fin-forward", ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", echo.LocalEndPoint.ToString()),
            ("tunnel.session.idle-timeout", "1s"));
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(side.TcpEndpoint);
        await client.SendAsync(new byte[] { 0, 2, 7, 8 });

        Assert.Equal(new byte[] { 0, 2, 7, 8 }, await ReadToFinAsync(client));
        // The session stops just after its connection's FIN.
        Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read("fin-forward", "sessions.ended", ("reason", "idle")) == 1, Wait));
    }

    [Fact]
    public async Task Sessions_ending_under_traffic_send_no_datagram_to_a_dead_letter()
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        await using var server = await Sides.StartAsync("dead-letter-server", ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", echo.LocalEndPoint.ToString()));
        var configuration = Sides.Configure(("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", server.TcpEndpoint.ToString()),
            ("tunnel.session.unanswered-timeout", "0"));
        var supervisor = Sys.ActorOf(TunnelSupervisor.Props(configuration.Settings), "tunnel");
        var ready = Assert.IsType<TunnelSupervisor.Ready>(await supervisor.Ask<object>(TunnelSupervisor.AwaitReady.Instance, Wait));
        var tunnel = (IPEndPoint)ready.Endpoints["udp"];
        var deadLetters = CreateTestProbe();
        Sys.EventStream.Subscribe(deadLetters.Ref, typeof(DeadLetter));

        // Peers keep sending while every session ends (the side shuts down) and their connections close.
        using var stop = new CancellationTokenSource();
        var peers = Enumerable.Range(0, 10).Select(_ => Task.Run(async () =>
        {
            using var peer = Peers.Bind(AddressFamily.InterNetwork);
            while (!stop.IsCancellationRequested)
            {
                try { await peer.SendToAsync(new byte[100], tunnel); } catch (SocketException) { }
                await Task.Delay(1);
            }
        })).ToList();
        Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read(Sys.Name, "sessions.active") == 10, Wait));
        Watch(supervisor);
        supervisor.Tell(TunnelActors.Transport.Shutdown.Instance);
        ExpectTerminated(supervisor, Wait);
        await stop.CancelAsync();
        await Task.WhenAll(peers);

        var carried = new List<object>();
        while (deadLetters.HasMessages) carried.Add(deadLetters.ReceiveOne(TimeSpan.Zero)!);
        Assert.DoesNotContain(carried, letter => letter is DeadLetter { Message: Udp.Received });
        // The side's meter went with it; its counters remain.
        Assert.Equal(10, TunnelActors.Flow.SideResources.For(Sys).Sessions.Ended(SessionEndReason.Shutdown));
    }

    /// <summary>Everything up to a clean end of stream: a reset fails the test.</summary>
    private static async Task<byte[]> ReadToFinAsync(Socket socket)
    {
        var closed = await Connections.ReadUntilClosedAsync(socket, Wait);
        Assert.False(closed.Reset, $"the side reset the connection after {closed.Received.Length} bytes");
        return closed.Received;
    }
}
