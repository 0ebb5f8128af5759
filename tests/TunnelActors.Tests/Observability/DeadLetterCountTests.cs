using System.Net;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using Akka.TestKit.Xunit2;
using TunnelActors.Configuration;
using TunnelActors.Flow;
using TunnelActors.Observability;
using TunnelActors.Tests.Support;
using Xunit;

namespace TunnelActors.Tests.Observability;

/// <summary>A datagram that reaches a stopped actor is counted as undelivered, and the dead-letter log never shows a peer's address.</summary>
public sealed class DeadLetterCountTests() : TestKit(TunnelConfiguration.Reference)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private static readonly IPEndPoint Peer = new(IPAddress.Parse("127.0.0.9"), 40999);

    private static Udp.Received Datagram() => new(ByteString.FromBytes([1, 2, 3]), Peer);

    [Fact]
    public void Datagrams_to_a_stopped_actor_are_counted_and_only_the_first_ten_dead_letters_are_logged_without_the_peer()
    {
        var (counters, logs, count, gone) = Watching(redact: false);

        for (var i = 0; i < 12; i++) gone.Tell(Datagram());
        gone.Tell("a control message");
        Finish(count);

        Assert.Equal(12, counters.Dropped(DropReason.Undelivered));
        Assert.Equal(12, counters.TotalDropped);
        var lines = Lines(logs);
        Assert.Equal(DeadLetterCount.LoggedLetters, lines.Count);
        Assert.All(lines, line => Assert.Contains("Message [Received]", line));
        Assert.All(lines, line => Assert.DoesNotContain("127.0.0.9", line));
    }

    [Fact]
    public void Once_the_side_stops_dead_letters_are_counted_and_not_logged()
    {
        var (counters, logs, count, gone) = Watching(redact: false);

        gone.Tell("before");
        count.Tell(DeadLetterCount.SideStopping.Instance);
        gone.Tell(Datagram());
        gone.Tell("after");
        Finish(count);

        Assert.Contains("Message [String]", Assert.Single(Lines(logs)));
        Assert.Equal(1, counters.Dropped(DropReason.Undelivered));
    }

    [Fact]
    public void With_redacted_addresses_no_content_is_logged_and_without_it_a_control_message_shows()
    {
        foreach (var redact in new[] { true, false })
        {
            var (counters, logs, count, gone) = Watching(redact);

            gone.Tell($"session of {Peer} ended");
            Finish(count);
            Sys.EventStream.Unsubscribe(logs.Ref);

            var line = Assert.Single(Lines(logs));
            Assert.Contains("Message [String]", line);
            Assert.Equal(!redact, line.Contains("127.0.0.9"));
            Assert.Equal(0, counters.TotalDropped);
        }
    }

    [Fact]
    public async Task A_side_counts_a_datagram_that_reaches_one_of_its_stopped_actors_as_undelivered()
    {
        var configuration = Sides.Configure(("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", "127.0.0.1:9"));
        var supervisor = Sys.ActorOf(TunnelSupervisor.Props(configuration.Settings), "tunnel");
        Assert.IsType<TunnelSupervisor.Ready>(await supervisor.Ask<object>(TunnelSupervisor.AwaitReady.Instance, Wait));
        var side = SideResources.For(Sys);
        Assert.Equal(0, side.Counters.Dropped(DropReason.Undelivered));

        Stopped().Tell(Datagram());

        await AwaitAssertAsync(() => Assert.Equal(1, side.Counters.Dropped(DropReason.Undelivered)), Wait);
        Watch(supervisor);
        supervisor.Tell(TunnelActors.Transport.Shutdown.Instance);
        ExpectTerminated(supervisor, Wait);
    }

    /// <summary>A started count, a probe that gets the Info lines, and an actor that has stopped.</summary>
    private (TrafficCounters Counters, Akka.TestKit.TestProbe Logs, IActorRef Count, IActorRef Gone) Watching(bool redact)
    {
        var counters = new TrafficCounters();
        var logs = CreateTestProbe();
        Sys.EventStream.Subscribe(logs.Ref, typeof(Info));
        return (counters, logs, Started(DeadLetterCount.Props(counters, new AddressDisplay(redact))), Stopped());
    }

    /// <summary>The count, once it has subscribed (its start runs after ActorOf returns; Identify is answered after it).</summary>
    private IActorRef Started(Props props)
    {
        var count = Sys.ActorOf(props);
        count.Tell(new Identify(null), TestActor);
        ExpectMsg<ActorIdentity>(Wait);
        return count;
    }

    /// <summary>An actor that has stopped: what is told to it becomes a dead letter.</summary>
    private IActorRef Stopped()
    {
        var probe = CreateTestProbe();
        Watch(probe.Ref);
        Sys.Stop(probe.Ref);
        ExpectTerminated(probe.Ref, Wait);
        return probe.Ref;
    }

    /// <summary>Dead letters told before this reached the count's inbox first: once it has stopped, it handled them all.</summary>
    private void Finish(IActorRef count)
    {
        Watch(count);
        count.Tell(PoisonPill.Instance);
        ExpectTerminated(count, Wait);
    }

    private static List<string> Lines(Akka.TestKit.TestProbe logs)
    {
        var lines = new List<string>();
        while (logs.HasMessages)
            if (logs.ReceiveOne(TimeSpan.Zero) is Info info && info.Message.ToString()!.Contains("was not delivered"))
                lines.Add(info.Message.ToString()!);
        return lines;
    }
}
