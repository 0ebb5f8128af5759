using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.IO;
using Akka.TestKit.Xunit2;
using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors.Auth;
using TunnelActors.Configuration;
using TunnelActors.Flow;
using TunnelActors.Framing;
using TunnelActors.Links;
using TunnelActors.Observability;
using TunnelActors.Transport;

namespace TunnelActors.Tests.Framing;

/// <summary>
/// FramingStage against a probe standing in for the Akka.IO connection; the datagrams it decodes go out on a
/// real UDP socket to a real peer socket.
/// </summary>
public sealed class FramingStageTests : TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    private static readonly TunnelSettings Settings = Sides.Configure(
        ("tunnel.udp.listen", "127.0.0.1:1"), ("tunnel.tcp.listen", "127.0.0.1:2"),
        ("tunnel.tcp.send-queue-limit", "65537"),
        // Age limits are SendBufferTests' subject; here a slow run must not turn queued frames stale.
        ("tunnel.tcp.max-queue-delay", "0")).Settings;

    private static readonly LinkRole UdpListenSide = new(HandshakeRole.Listener, AwaitsFlow: false, TimeSpan.Zero);
    private static readonly LinkRole ForwardSide = new(HandshakeRole.Listener, AwaitsFlow: true, TimeSpan.Zero);

    private readonly Akka.TestKit.TestProbe _connection;
    private readonly Akka.TestKit.TestProbe _owner;
    private readonly TrafficCounters _counters = new();
    private readonly Socket _listenSocket = Peers.Bind(AddressFamily.InterNetwork);
    private readonly Socket _peer = Peers.Bind(AddressFamily.InterNetwork);
    private readonly IActorRef _stage;

    private static readonly IPEndPoint Remote = new(IPAddress.Loopback, 9);

    public FramingStageTests() : base(TunnelConfiguration.Reference)
    {
        (_stage, _connection, _owner) = Link(UdpListenSide, Settings);
        _owner.ExpectMsg<Link.Admitted>();
        _stage.Tell(new Link.Attach(_owner.Ref, Binding(_counters)), _owner.Ref);
    }

    /// <summary>A link on a probe standing in for its Akka.IO connection, owned by another probe.</summary>
    private (IActorRef Stage, Akka.TestKit.TestProbe Connection, Akka.TestKit.TestProbe Owner) Link(LinkRole role, TunnelSettings settings)
    {
        var connection = CreateTestProbe();
        var owner = CreateTestProbe();
        var stage = Sys.ActorOf(FramingStage.Props(connection.Ref, role, settings, Remote, owner.Ref));
        connection.ExpectMsg<Tcp.Register>();
        connection.ExpectMsg<Tcp.ResumeReading>();
        return (stage, connection, owner);
    }

    private Link.Binding Binding(TrafficCounters counters) => new(Sink(), counters, new ActivityStamp());

    private UdpSink Sink()
    {
        var capture = new SocketCapture(Settings.Udp);
        capture.AfterBind(_listenSocket);
        return capture.SinkTo((IPEndPoint)_peer.LocalEndPoint!, peer: true);
    }

    private IPEndPoint PeerAddress => (IPEndPoint)_peer.LocalEndPoint!;

    private void Segment(IActorRef stage, byte[] bytes) => stage.Tell(new Tcp.Received(ByteString.CopyFrom(bytes)), _connection.Ref);

    private async Task<byte[]> NextDatagramAsync()
    {
        var buffer = new byte[65536];
        var length = await Peers.ReceiveAsync(_peer, buffer, Wait, (IPEndPoint)_listenSocket.LocalEndPoint!) ?? throw new TimeoutException("no datagram reached the peer");
        return buffer[..length];
    }

    [Fact]
    public async Task Segments_split_and_glued_anyhow_reach_the_peer_as_whole_datagrams_in_order()
    {
        var stream = Frames.Of([1, 2, 3], [], [4], new byte[1000]);
        foreach (var cut in new[] { stream[..1], stream[1..7], stream[7..] })
        {
            Segment(_stage, cut);
            // Each segment asks for the next one at once: reading is paced by the link, one segment at a time.
            _connection.ExpectMsg<Tcp.ResumeReading>();
        }

        Assert.Equal(new byte[] { 1, 2, 3 }, await NextDatagramAsync());
        Assert.Empty(await NextDatagramAsync());
        Assert.Equal(new byte[] { 4 }, await NextDatagramAsync());
        Assert.Equal(new byte[1000], await NextDatagramAsync());
        Assert.Equal(4, _counters.ToUdpDatagrams);
    }

    [Fact]
    public async Task A_forward_side_link_starts_a_flow_only_on_a_whole_frame_holds_it_reads_no_more_and_delivers_once_bound()
    {
        var (stage, connection, owner) = Link(ForwardSide, Settings);
        owner.ExpectMsg<Link.Admitted>();
        var stream = Frames.Of([7], [8, 8]);

        // Half a length: no flow yet, and it reads on.
        stage.Tell(new Tcp.Received(ByteString.CopyFrom(stream[..1])), connection.Ref);
        connection.ExpectMsg<Tcp.ResumeReading>();
        owner.ExpectNoMsg(TimeSpan.FromMilliseconds(100));

        stage.Tell(new Tcp.Received(ByteString.CopyFrom(stream[1..])), connection.Ref);
        Assert.Null(owner.ExpectMsg<Link.FirstFrame>().Flow);
        connection.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        var counters = new TrafficCounters();
        stage.Tell(new Link.Attach(owner.Ref, Binding(counters)), owner.Ref);
        connection.ExpectMsg<Tcp.ResumeReading>();
        Assert.Equal(new byte[] { 7 }, await NextDatagramAsync());
        Assert.Equal(new byte[] { 8, 8 }, await NextDatagramAsync());
        Assert.Equal(2, counters.ToUdpDatagrams);
    }

    [Fact]
    public void One_write_in_flight_and_the_rest_coalesced_into_the_next()
    {
        _stage.Tell(new Udp.Received(ByteString.FromBytes([1]), PeerAddress));
        var first = _connection.ExpectMsg<Tcp.Write>();
        Assert.Equal(Frames.Of([1]), first.Data.ToArray());

        _stage.Tell(new Udp.Received(ByteString.FromBytes([2, 2]), PeerAddress));
        _stage.Tell(new Udp.Received(ByteString.Empty, PeerAddress));
        _connection.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        _stage.Tell(first.Ack, _connection.Ref);
        var second = _connection.ExpectMsg<Tcp.Write>();
        Assert.Equal(Frames.Of([2, 2], []), second.Data.ToArray());
        Assert.Equal(3, _counters.ToTcpDatagrams);
    }

    [Fact]
    public void What_does_not_fit_the_send_queue_is_dropped_and_counted()
    {
        _stage.Tell(new Udp.Received(ByteString.FromBytes(new byte[100]), PeerAddress));
        var first = _connection.ExpectMsg<Tcp.Write>();
        _stage.Tell(new Udp.Received(ByteString.FromBytes(new byte[60_000]), PeerAddress));
        _stage.Tell(new Udp.Received(ByteString.FromBytes(new byte[6_000]), PeerAddress));
        _stage.Tell(new Udp.Received(ByteString.FromBytes(new byte[5_000]), PeerAddress));
        AwaitCondition(() => _counters.Dropped(DropReason.TcpSendQueueFull) == 1);

        _stage.Tell(first.Ack, _connection.Ref);
        var second = _connection.ExpectMsg<Tcp.Write>();
        Assert.Equal(2 + 60_000 + 2 + 5_000, second.Data.Count);
        Assert.Equal(3, _counters.ToTcpDatagrams);
        Assert.Equal(65_100, _counters.ToTcpBytes);
    }

    [Fact]
    public void A_connection_the_far_side_closes_ends_the_link_which_tells_its_owner_why_and_stops()
    {
        Watch(_stage);
        _stage.Tell(Tcp.PeerClosed.Instance, _connection.Ref);
        var ended = _owner.ExpectMsg<Link.Ended>();
        Assert.Equal(LinkEnd.LostUnused, ended.How);
        Assert.True(ended.Admitted);
        ExpectTerminated(_stage);
    }

    [Fact]
    public void An_idle_link_counts_what_it_cannot_deliver_and_ends_when_its_connection_closes()
    {
        var (stage, connection, owner) = Link(UdpListenSide, Settings);
        owner.ExpectMsg<Link.Admitted>();
        var side = SideResources.For(Sys).Counters;
        var before = side.Dropped(DropReason.NoPeerBound);

        stage.Tell(new Tcp.Received(ByteString.CopyFrom(Frames.Of([1], [2]))), connection.Ref);
        connection.ExpectMsg<Tcp.ResumeReading>();
        AwaitCondition(() => side.Dropped(DropReason.NoPeerBound) == before + 2);

        Watch(stage);
        stage.Tell(Tcp.PeerClosed.Instance, connection.Ref);
        owner.ExpectMsg<Link.Ended>();
        ExpectTerminated(stage);
    }

    [Fact]
    public void Close_writes_what_is_queued_then_sends_a_fin_and_reads_until_the_far_sides()
    {
        _stage.Tell(new Udp.Received(ByteString.FromBytes([1]), PeerAddress));
        var first = _connection.ExpectMsg<Tcp.Write>();
        _stage.Tell(new Udp.Received(ByteString.FromBytes([2]), PeerAddress));
        _stage.Tell(new Link.Close("test"), _owner.Ref);
        _connection.ExpectNoMsg(TimeSpan.FromMilliseconds(100));

        _stage.Tell(first.Ack, _connection.Ref);
        var second = _connection.ExpectMsg<Tcp.Write>();
        Assert.Equal(Frames.Of([2]), second.Data.ToArray());
        _stage.Tell(second.Ack, _connection.Ref);
        _connection.ExpectMsg<Tcp.ConfirmedClose>();

        Watch(_stage);
        _stage.Tell(Tcp.ConfirmedClosed.Instance, _connection.Ref);
        var ended = _owner.ExpectMsg<Link.Ended>();
        Assert.Equal(LinkEnd.Closed, ended.How);
        Assert.Equal("test", ended.Reason);
        ExpectTerminated(_stage);
    }

    [Fact]
    public void Frames_that_arrive_while_closing_are_counted_not_delivered()
    {
        _stage.Tell(new Link.Close("retired"), _owner.Ref);
        _connection.ExpectMsg<Tcp.ConfirmedClose>();
        Segment(_stage, Frames.Of([1], [2], [3]));
        _connection.ExpectMsg<Tcp.ResumeReading>();
        AwaitCondition(() => _counters.Dropped(DropReason.Undelivered) == 3);
        Assert.Equal(0, _counters.ToUdpDatagrams);
    }

    [Fact]
    public void An_owner_that_stops_gets_its_queue_written_and_the_connection_closed()
    {
        _stage.Tell(new Udp.Received(ByteString.FromBytes([1]), PeerAddress));
        var write = _connection.ExpectMsg<Tcp.Write>();
        _owner.Ref.Tell(PoisonPill.Instance);
        _stage.Tell(write.Ack, _connection.Ref);
        _connection.ExpectMsg<Tcp.ConfirmedClose>();

        Watch(_stage);
        _stage.Tell(Tcp.ConfirmedClosed.Instance, _connection.Ref);
        ExpectTerminated(_stage);
    }

    [Fact]
    public void A_connection_that_never_takes_its_queue_is_reset_after_the_close_timeout_and_what_it_held_is_counted()
    {
        var settings = Sides.Configure(("tunnel.udp.listen", "127.0.0.1:1"), ("tunnel.tcp.listen", "127.0.0.1:2"),
            ("tunnel.tcp.max-queue-delay", "0"), ("tunnel.tcp.close-timeout", "300ms")).Settings;
        var (stage, connection, owner) = Link(UdpListenSide, settings);
        owner.ExpectMsg<Link.Admitted>();
        var counters = new TrafficCounters();
        stage.Tell(new Link.Attach(owner.Ref, Binding(counters)), owner.Ref);
        var budget = SideResources.For(Sys).Budget;
        var before = budget.Used;

        stage.Tell(new Udp.Received(ByteString.FromBytes(new byte[1000]), PeerAddress));
        connection.ExpectMsg<Tcp.Write>(); // never acknowledged: the peer's window stays shut
        stage.Tell(new Udp.Received(ByteString.FromBytes(new byte[1000]), PeerAddress));
        stage.Tell(new Link.Close("test"), owner.Ref);

        Watch(stage);
        connection.ExpectMsg<Tcp.Abort>(TimeSpan.FromSeconds(5));
        ExpectTerminated(stage);
        Assert.Equal(1, counters.Dropped(DropReason.Undelivered));
        Assert.True(budget.Used <= before, $"the stopped link still holds {budget.Used - before} B of the side's budget");
    }

    [Fact]
    public void Closed_during_its_handshake_a_link_closes_the_connection_at_once()
    {
        using var key = new TempFile(PreSharedKey.Generate());
        var keyed = Sides.Configure(("tunnel.udp.listen", "127.0.0.1:1"), ("tunnel.tcp.connect", "127.0.0.1:2"),
            ("tunnel.auth.psk-file", key.Path), ("tunnel.tcp.close-timeout", "30s")).Settings;
        var connection = CreateTestProbe();
        var owner = CreateTestProbe();
        var stage = Sys.ActorOf(FramingStage.Props(connection.Ref, new LinkRole(HandshakeRole.Dialer, false, TimeSpan.Zero), keyed, Remote, owner.Ref));
        connection.ExpectMsg<Tcp.Register>();
        connection.ExpectMsg<Tcp.Write>(); // the greeting
        connection.ExpectMsg<Tcp.ResumeReading>();

        Watch(stage);
        stage.Tell(new Link.Close("its session ended"), owner.Ref);
        connection.ExpectMsg<Tcp.Close>();
        Assert.Equal(LinkEnd.Closed, owner.ExpectMsg<Link.Ended>().How);
        ExpectTerminated(stage);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _listenSocket.Dispose();
            _peer.Dispose();
        }
        base.Dispose(disposing);
    }
}
