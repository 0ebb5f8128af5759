using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.IO;
using Akka.TestKit.Xunit2;
using TunnelActors.Configuration;
using TunnelActors.Endpoints;
using TunnelActors.Tests.Support;
using TunnelActors.Transport;
using Xunit;

namespace TunnelActors.Tests.Endpoints;

/// <summary>
/// A listen shard's routing, with the test actor as its endpoint: a peer's datagrams go to the endpoint until it has
/// answered for every one of them, and only then straight to the session, so none overtakes one still at the endpoint.
/// </summary>
public sealed class ShardRoutingTests()
    : TestKit(ConfigurationFactory.ParseString("akka.loglevel = WARNING").WithFallback(TunnelConfiguration.Reference))
{
    private static readonly IPEndPoint Peer = new(IPAddress.Loopback, 40000);

    private static Udp.Received Datagram(byte n) => new(ByteString.FromBytes([n]), Peer);

    [Fact]
    public void A_peer_goes_straight_to_its_session_only_once_the_endpoint_has_answered_for_all_it_holds()
    {
        var settings = Sides.Configure(("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", "127.0.0.1:9")).Settings;
        var udp = CreateTestProbe();
        var session = CreateTestProbe();
        var shard = ChildActorOf(ListenShard.Props(settings, new ListenAddress(settings.Udp.Endpoint), new SocketCapture(settings.Udp), udp));

        shard.Tell(Datagram(1));
        shard.Tell(Datagram(2));
        Assert.Equal(1, ExpectMsg<Udp.Received>().Data[0]);
        Assert.Equal(2, ExpectMsg<Udp.Received>().Data[0]);

        // Answered for the first only: the third still goes behind the second, through the endpoint.
        shard.Tell(new ListenShard.Handled(Peer, session.Ref, 1));
        shard.Tell(Datagram(3));
        Assert.Equal(3, ExpectMsg<Udp.Received>().Data[0]);

        // Answered for all three: the fourth goes straight to the session.
        shard.Tell(new ListenShard.Handled(Peer, session.Ref, 2));
        shard.Tell(Datagram(4));
        Assert.Equal(4, session.ExpectMsg<Udp.Received>().Data[0]);

        // The session ends: the peer's next datagram is the endpoint's to decide again; refused, it stays there.
        shard.Tell(new ListenShard.Unroute(Peer, session.Ref));
        shard.Tell(Datagram(5));
        Assert.Equal(5, ExpectMsg<Udp.Received>().Data[0]);
        shard.Tell(new ListenShard.Handled(Peer, null, 1));
        shard.Tell(Datagram(6));
        Assert.Equal(6, ExpectMsg<Udp.Received>().Data[0]);
    }

    [Fact]
    public void An_unroute_for_a_session_it_no_longer_routes_to_changes_nothing()
    {
        var settings = Sides.Configure(("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", "127.0.0.1:9")).Settings;
        var first = CreateTestProbe();
        var second = CreateTestProbe();
        var shard = ChildActorOf(ListenShard.Props(settings, new ListenAddress(settings.Udp.Endpoint), new SocketCapture(settings.Udp), CreateTestProbe()));

        shard.Tell(Datagram(1));
        ExpectMsg<Udp.Received>();
        shard.Tell(new ListenShard.Handled(Peer, second.Ref, 1));
        shard.Tell(new ListenShard.Unroute(Peer, first.Ref));
        shard.Tell(Datagram(2));
        Assert.Equal(2, second.ExpectMsg<Udp.Received>().Data[0]);
    }
}
