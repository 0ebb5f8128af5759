using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;
using Akka.IO;
using Akka.TestKit.Xunit2;
using TunnelActors.Configuration;
using TunnelActors.Flow;
using TunnelActors.Tests.Support;
using TunnelActors.Transport;
using Xunit;

namespace TunnelActors.Tests.Transport;

/// <summary>
/// The side's own UDP sockets (<c>tunnel.udp.io = batched</c>) speak Akka.IO's protocol to their handler, over real
/// loopback sockets: Bind → Bound (or CommandFailed), Received with the true source, Send, Unbind → Unbound, and a
/// socket that goes however its actor or its manager stops.
/// </summary>
public sealed class DatagramSocketTests() : TestKit(ConfigurationFactory.ParseString("akka.loglevel = WARNING"))
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private sealed class Sent : Udp.Event
    {
        public static readonly Sent Instance = new();
    }

    private static UdpTunnelSettings Settings(int batch = 64) =>
        Sides.Configure(("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.listen", "127.0.0.1:0"),
            ("tunnel.udp.receive-batch", batch.ToString())).Settings.Udp;

    private IActorRef Manager(int batch = 64)
    {
        Assert.True(DatagramManager.Supported, "tunnel.udp.io = batched runs on 64-bit Linux, where the tests run");
        return Sys.ActorOf(DatagramManager.Props(Settings(batch)));
    }

    private (IPEndPoint Local, IActorRef Socket) Bind(IActorRef manager, IPAddress address, int batch = 64)
    {
        manager.Tell(new Udp.Bind(TestActor, new IPEndPoint(address, 0), [new SocketCapture(Settings(batch))]), TestActor);
        var bound = ExpectMsg<Udp.Bound>(Wait);
        return ((IPEndPoint)bound.LocalAddress, LastSender);
    }

    private static bool PortIsFree(IPEndPoint endpoint)
    {
        using var probe = new Socket(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            probe.Bind(endpoint);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    [Theory]
    [InlineData("tunnel.udp.io", "epoll", "batched or akka")]
    [InlineData("tunnel.udp.receive-batch", "0", "1 to 1024")]
    [InlineData("tunnel.udp.receive-batch", "2000", "1 to 1024")]
    [InlineData("tunnel.udp.receive-threads", "-1", "0 to 256")]
    [InlineData("tunnel.udp.receive-threads", "300", "0 to 256")]
    [InlineData("tunnel.udp.receive-threads", "many", "not a whole number")]
    public void A_bad_udp_io_setting_names_its_key(string key, string value, string expected)
    {
        var e = Assert.Throws<TunnelActors.Configuration.ConfigurationException>(() => Sides.Configure(("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", "127.0.0.1:9"), (key, value)));
        Assert.Equal(key, e.Key);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Sockets_bound_in_one_go_are_spread_over_the_receive_threads_one_each()
    {
        var settings = Sides.Configure(("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.listen", "127.0.0.1:0"),
            ("tunnel.udp.receive-threads", "3")).Settings.Udp;
        var manager = Sys.ActorOf(DatagramManager.Props(settings));
        // All three in the manager's inbox before it takes any (deferred, as a receive thread does), so that it makes all
        // three socket actors in one turn, before any has registered with a thread: as the listen port's shards come.
        InlineExecutor.Defer();
        try
        {
            for (var i = 0; i < 3; i++)
                manager.Tell(new Udp.Bind(TestActor, new IPEndPoint(IPAddress.Loopback, 0), [new SocketCapture(settings)]), TestActor);
        }
        finally
        {
            InlineExecutor.RunDeferred();
        }
        var locals = Enumerable.Range(0, 3).Select(_ => (IPEndPoint)ExpectMsg<Udp.Bound>(Wait).LocalAddress).ToList();

        using var peer = Peers.Bind(AddressFamily.InterNetwork);
        foreach (var local in locals) peer.SendTo(new byte[] { 1 }, local);
        for (var i = 0; i < 3; i++) ExpectMsg<Udp.Received>(Wait);
        var perThread = SideResources.For(Sys).ReceiveThreads.Threads.ToDictionary(t => t.Thread, t => t.Datagrams);
        Assert.Equal(3, perThread.Count);
        Assert.All(perThread.Values, datagrams => Assert.Equal(1, datagrams));
    }

    [Theory]
    [InlineData("0", -1)]
    [InlineData("3", 3)]
    public void Receive_threads_are_one_per_core_unless_set(string value, int expected)
    {
        var settings = Sides.Configure(("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", "127.0.0.1:9"),
            ("tunnel.udp.receive-threads", value)).Settings.Udp;
        Assert.Equal(expected > 0 ? expected : Environment.ProcessorCount, settings.ReceiveThreads);
    }

    [Theory]
    [InlineData("127.0.0.1", 65507)]
    [InlineData("::1", 65527)]
    public async Task Datagrams_of_every_size_arrive_whole_each_from_the_source_that_sent_it(string host, int largest)
    {
        var address = IPAddress.Parse(host);
        var (local, _) = Bind(Manager(), address);
        using var first = Peers.Bind(address.AddressFamily);
        using var second = Peers.Bind(address.AddressFamily);
        foreach (var size in new[] { 0, 1, 1200, largest })
        foreach (var peer in new[] { first, second })
        {
            var payload = new byte[size];
            Random.Shared.NextBytes(payload);
            await peer.SendToAsync(payload, local);
            var received = ExpectMsg<Udp.Received>(Wait);
            Assert.Equal(peer.LocalEndPoint, received.Sender);
            Assert.Equal(payload, received.Data.ToArray());
        }
    }

    [Fact]
    public async Task A_burst_of_many_batches_arrives_complete_and_in_order()
    {
        var (local, _) = Bind(Manager(batch: 8), IPAddress.Loopback, batch: 8);
        using var peer = Peers.Bind(AddressFamily.InterNetwork);
        const int count = 300;
        for (var i = 0; i < count; i++) await peer.SendToAsync(BitConverter.GetBytes(i), local);
        for (var i = 0; i < count; i++)
            Assert.Equal(i, BitConverter.ToInt32(ExpectMsg<Udp.Received>(Wait).Data.ToArray()));
    }

    [Fact]
    public async Task Send_reaches_its_target_and_is_acknowledged()
    {
        var (local, socket) = Bind(Manager(), IPAddress.Loopback);
        using var peer = Peers.Bind(AddressFamily.InterNetwork);
        socket.Tell(new Udp.Send(ByteString.FromBytes([1, 2, 3]), peer.LocalEndPoint!, Sent.Instance));
        ExpectMsg<Sent>(Wait);
        var buffer = new byte[16];
        Assert.Equal(3, await Peers.ReceiveAsync(peer, buffer, Wait, from: local));
    }

    [Fact]
    public void Unbind_answers_Unbound_and_frees_the_port()
    {
        var (local, socket) = Bind(Manager(), IPAddress.Loopback);
        Assert.False(PortIsFree(local));
        Watch(socket);
        socket.Tell(Udp.Unbind.Instance, TestActor);
        ExpectMsg<Udp.Unbound>(Wait);
        ExpectTerminated(socket, Wait);
        Assert.True(PortIsFree(local));
    }

    [Fact]
    public void A_port_in_use_answers_CommandFailed_and_nothing_else()
    {
        using var taken = Peers.Bind(AddressFamily.InterNetwork);
        Manager().Tell(new Udp.Bind(TestActor, taken.LocalEndPoint!), TestActor);
        ExpectMsg<Udp.CommandFailed>(Wait);
        ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public void A_socket_whose_actor_stops_is_closed_and_its_handler_sees_it_go()
    {
        var (local, socket) = Bind(Manager(), IPAddress.Loopback);
        Watch(socket);
        Sys.Stop(socket);
        ExpectTerminated(socket, Wait);
        Assert.True(PortIsFree(local));
    }

    [Fact]
    public void A_socket_whose_handler_stops_is_closed_with_it()
    {
        var handler = CreateTestProbe();
        var manager = Manager();
        manager.Tell(new Udp.Bind(handler.Ref, new IPEndPoint(IPAddress.Loopback, 0)), handler.Ref);
        var local = (IPEndPoint)handler.ExpectMsg<Udp.Bound>(Wait).LocalAddress;
        var socket = handler.LastSender;
        Watch(socket);
        Sys.Stop(handler.Ref);
        ExpectTerminated(socket, Wait);
        Assert.True(PortIsFree(local));
    }

    [Fact]
    public void Stopping_the_manager_closes_every_socket()
    {
        var manager = Manager();
        var sockets = Enumerable.Range(0, 3).Select(_ => Bind(manager, IPAddress.Loopback)).ToList();
        Watch(manager);
        Sys.Stop(manager);
        ExpectTerminated(manager, Wait);
        Assert.All(sockets, s => Assert.True(PortIsFree(s.Local), $"{s.Local} is still bound"));
    }
}
