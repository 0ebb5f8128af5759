using System.Buffers;
using Akka.Actor;
using Akka.IO;
using Akka.TestKit.Xunit2;
using TunnelActors.Framing;
using TunnelActors.Sessions;
using TunnelActors.Tests.Support;
using Xunit;

namespace TunnelActors.Tests.Framing;

/// <summary>FramingStage against a probe standing in for the Akka.IO connection.</summary>
public sealed class FramingStageTests : TestKit
{
    private static readonly TunnelSettings Settings = Sides.Configure(
        ("tunnel.udp.listen", "127.0.0.1:1"), ("tunnel.tcp.listen", "127.0.0.1:2"),
        ("tunnel.tcp.inbound-batches-in-flight", "2"), ("tunnel.tcp.send-queue-limit", "65537")).Settings;

    private readonly Akka.TestKit.TestProbe _connection;
    private readonly Akka.TestKit.TestProbe _owner;
    private readonly TrafficCounters _counters = new();
    private readonly IActorRef _stage;

    public FramingStageTests() : base(TunnelConfiguration.Reference)
    {
        _connection = CreateTestProbe();
        _owner = CreateTestProbe();
        _stage = Sys.ActorOf(FramingStage.Props(_connection.Ref, LengthPrefixedCodec.Instance, Settings, new TrafficCounters(),
            new FramingStage.Attach(_owner.Ref, _counters)));
        _connection.ExpectMsg<Tcp.Register>();
        _connection.ExpectMsg<Tcp.ResumeReading>();
    }

    private static byte[] Frames(params byte[][] payloads)
    {
        var output = new ArrayBufferWriter<byte>();
        foreach (var payload in payloads) LengthPrefixedCodec.Instance.Write(payload, output);
        return output.WrittenSpan.ToArray();
    }

    private void Segment(byte[] bytes) => _stage.Tell(new Tcp.Received(ByteString.CopyFrom(bytes)), _connection.Ref);

    [Fact]
    public void Segments_split_and_glued_anyhow_come_out_as_whole_datagrams_in_order()
    {
        var stream = Frames([1, 2, 3], [], [4], new byte[1000]);
        Segment(stream[..1]);
        _connection.ExpectMsg<Tcp.ResumeReading>();
        Segment(stream[1..7]);
        var first = _owner.ExpectMsg<FramingStage.Inbound>();
        Assert.Equal([[1, 2, 3], []], first.Datagrams.Select(d => d.ToArray()));
        _connection.ExpectMsg<Tcp.ResumeReading>();
        _owner.Reply(FramingStage.Consumed.Instance);
        // A read is already requested: consuming the batch asks for no second one.
        _connection.ExpectNoMsg(TimeSpan.FromMilliseconds(100));

        Segment(stream[7..]);
        var second = _owner.ExpectMsg<FramingStage.Inbound>();
        Assert.Equal([[4], new byte[1000]], second.Datagrams.Select(d => d.ToArray()));
    }

    [Fact]
    public void Reading_pauses_while_the_owner_has_not_consumed_enough_batches()
    {
        Segment(Frames([1]));
        _owner.ExpectMsg<FramingStage.Inbound>();
        _connection.ExpectMsg<Tcp.ResumeReading>();
        Segment(Frames([2]));
        _owner.ExpectMsg<FramingStage.Inbound>();
        _connection.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        _stage.Tell(FramingStage.Consumed.Instance, _owner.Ref);
        _connection.ExpectMsg<Tcp.ResumeReading>();
    }

    [Fact]
    public void One_write_in_flight_and_the_rest_coalesced_into_the_next()
    {
        _stage.Tell(new FramingStage.Send(ByteString.FromBytes([1])));
        var first = _connection.ExpectMsg<Tcp.Write>();
        Assert.Equal(Frames([1]), first.Data.ToArray());

        _stage.Tell(new FramingStage.Send(ByteString.FromBytes([2, 2])));
        _stage.Tell(new FramingStage.Send(ByteString.Empty));
        _connection.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        _stage.Tell(first.Ack, _connection.Ref);
        var second = _connection.ExpectMsg<Tcp.Write>();
        Assert.Equal(Frames([2, 2], []), second.Data.ToArray());
        Assert.Equal(3, _counters.ToTcpDatagrams);
    }

    [Fact]
    public void What_does_not_fit_the_send_queue_is_dropped_and_counted()
    {
        _stage.Tell(new FramingStage.Send(ByteString.FromBytes(new byte[100])));
        _connection.ExpectMsg<Tcp.Write>();
        _stage.Tell(new FramingStage.Send(ByteString.FromBytes(new byte[60_000])));
        _stage.Tell(new FramingStage.Send(ByteString.FromBytes(new byte[6_000])));
        _stage.Tell(new FramingStage.Send(ByteString.FromBytes(new byte[5_000])));
        AwaitCondition(() => _counters.Dropped(DropReason.TcpSendQueueFull) == 1);
        Assert.Equal(3, _counters.ToTcpDatagrams);
    }

    [Fact]
    public void The_stage_stops_when_the_connection_closes_and_closes_it_when_the_owner_stops()
    {
        Watch(_stage);
        _stage.Tell(Tcp.PeerClosed.Instance, _connection.Ref);
        ExpectTerminated(_stage);

        var connection = CreateTestProbe();
        var owner = CreateTestProbe();
        Sys.ActorOf(FramingStage.Props(connection.Ref, LengthPrefixedCodec.Instance, Settings, new TrafficCounters(),
            new FramingStage.Attach(owner.Ref, new TrafficCounters())));
        connection.ExpectMsg<Tcp.Register>();
        connection.ExpectMsg<Tcp.ResumeReading>();
        owner.Ref.Tell(PoisonPill.Instance);
        connection.ExpectMsg<Tcp.Close>();
    }
}
