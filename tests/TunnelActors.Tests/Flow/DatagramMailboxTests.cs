using System.Net;
using Akka.Actor;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;
using Akka.IO;
using Xunit;
using TunnelActors.Flow;
using TunnelActors.Observability;
using TunnelActors.Transport;
using TunnelActors.Tools.Bench.Load;

namespace TunnelActors.Tests.Flow;

/// <summary>The datagram mailbox's queue on its own: what it admits, drops, counts and gives back.</summary>
public sealed class DatagramMailboxTests
{
    private static readonly IPEndPoint Peer = new(IPAddress.Loopback, 5000);

    private static Envelope Datagram(int length) => new(new Udp.Received(ByteString.FromBytes(new byte[length]), Peer), ActorRefs.NoSender);

    private static Envelope Control(object message) => new(message, ActorRefs.NoSender);

    [Fact]
    public void Datagrams_beyond_the_limit_are_dropped_and_counted_but_control_messages_always_get_in()
    {
        var side = new SideResources(long.MaxValue);
        var queue = new DatagramMessageQueue(limit: 3 * (1000 + ByteBudget.DatagramOverhead), side);
        for (var i = 0; i < 5; i++) queue.Enqueue(ActorRefs.Nobody, Datagram(1000));
        for (var i = 0; i < 1000; i++) queue.Enqueue(ActorRefs.Nobody, Control(i));

        Assert.Equal(2, side.Counters.Dropped(DropReason.QueueFull));
        Assert.Equal(3 + 1000, queue.Count);
        Assert.Equal(3 * (1000 + ByteBudget.DatagramOverhead), queue.Bytes);
    }

    [Fact]
    public void The_side_budget_bounds_all_queues_together()
    {
        var side = new SideResources(queueMemory: 2 * (100 + ByteBudget.DatagramOverhead));
        var first = new DatagramMessageQueue(limit: long.MaxValue, side);
        var second = new DatagramMessageQueue(limit: long.MaxValue, side);
        first.Enqueue(ActorRefs.Nobody, Datagram(100));
        second.Enqueue(ActorRefs.Nobody, Datagram(100));
        second.Enqueue(ActorRefs.Nobody, Datagram(100));
        Assert.Equal(1, side.Counters.Dropped(DropReason.SideMemoryFull));

        Assert.True(first.TryDequeue(out _));
        second.Enqueue(ActorRefs.Nobody, Datagram(100));
        Assert.Equal(2, second.Count);
        Assert.Equal(side.Budget.Limit, side.Budget.Used);
    }

    [Fact]
    public void Dequeued_and_cleaned_up_datagrams_give_their_bytes_back_and_only_control_messages_become_dead_letters()
    {
        var side = new SideResources(long.MaxValue);
        var queue = new DatagramMessageQueue(limit: long.MaxValue, side);
        queue.Enqueue(ActorRefs.Nobody, Datagram(10));
        queue.Enqueue(ActorRefs.Nobody, Control("ack"));
        queue.Enqueue(ActorRefs.Nobody, Datagram(0));
        Assert.True(queue.TryDequeue(out var first));
        Assert.IsType<Udp.Received>(first.Message);

        var deadLetters = new UnboundedMessageQueue();
        queue.CleanUp(ActorRefs.Nobody, deadLetters);
        Assert.Equal(1, side.Counters.Dropped(DropReason.Undelivered));
        Assert.True(deadLetters.TryDequeue(out var dead));
        Assert.Equal("ack", dead.Message);
        Assert.False(deadLetters.HasMessages);
        Assert.Equal(0, queue.Bytes);
        Assert.Equal(0, side.Budget.Used);
    }

    // Pins that Akka makes an actor's queue from the mailbox id in its props, which the links and sessions rely on.
    [Fact]
    public void An_actor_made_with_the_connection_mailbox_id_queues_its_datagrams_through_the_bounded_queue()
    {
        using var system = ActorSystem.Create("mailbox", Akka.Configuration.ConfigurationFactory
            .ParseString("akka.actor.default-dispatcher.executor = default-executor").WithFallback(TunnelActors.Configuration.TunnelConfiguration.Reference));
        using var gate = new ManualResetEventSlim();
        using var holding = new ManualResetEventSlim();
        var busy = system.ActorOf(Props.Create(() => new Busy(gate, holding)).WithMailbox(TunnelActors.Configuration.TunnelSettings.ConnectionMailbox));
        busy.Tell("hold");
        // Started and busy: every datagram below goes into its own mailbox, none into Akka's queue for an actor not yet started.
        Assert.True(holding.Wait(TimeSpan.FromSeconds(30)), "the actor never started");
        var side = SideResources.For(system).Counters;
        // 256 KiB of queue: 1,000 datagrams of 1,000 bytes do not fit while the actor is busy.
        for (var i = 0; i < 1000; i++) busy.Tell(new Udp.Received(ByteString.FromBytes(new byte[1000]), Peer));
        Assert.InRange(side.Dropped(DropReason.QueueFull), 700, 800);
        gate.Set();
    }

    private sealed class Busy(ManualResetEventSlim gate, ManualResetEventSlim holding) : UntypedActor
    {
        protected override void OnReceive(object message)
        {
            if (message is not "hold") return;
            holding.Set();
            gate.Wait(TimeSpan.FromSeconds(30));
        }
    }
}
