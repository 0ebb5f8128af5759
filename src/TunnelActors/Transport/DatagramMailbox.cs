using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;
using Akka.IO;
using TunnelActors.Flow;
using TunnelActors.Observability;

namespace TunnelActors.Transport;

/// <summary>
/// The mailbox of every actor datagrams pass through. UDP has no back-pressure, so a datagram
/// (<see cref="Udp.Received"/>) is admitted only while this mailbox holds less than its <c>queue-limit</c>
/// bytes and the side's <see cref="ByteBudget"/> has room; otherwise it is dropped and counted. Every other
/// message (acknowledgements, reads, lifecycle) is always admitted, so control never gets lost to a flood.
/// </summary>
public sealed class DatagramMailbox : MailboxType, IProducesMessageQueue<DatagramMessageQueue>
{
    private readonly long _limit;

    public DatagramMailbox(Settings settings, Config config) : base(settings, config)
    {
        _limit = config.GetByteSize("queue-limit") ?? throw new ArgumentException("queue-limit is missing", nameof(config));
    }

    public override IMessageQueue Create(IActorRef owner, ActorSystem system) => new DatagramMessageQueue(_limit, SideResources.For(system));
}

public sealed class DatagramMessageQueue(long limit, SideResources side) : IMessageQueue, IUnboundedMessageQueueSemantics
{
    private readonly ConcurrentQueue<Envelope> _queue = new();
    private long _bytes;

    public bool HasMessages => !_queue.IsEmpty;

    public int Count => _queue.Count;

    public long Bytes => Interlocked.Read(ref _bytes);

    public void Enqueue(IActorRef receiver, Envelope envelope)
    {
        if (envelope.Message is Udp.Received datagram && !Admit(Cost(datagram))) return;
        _queue.Enqueue(envelope);
    }

    public bool TryDequeue(out Envelope envelope)
    {
        if (!_queue.TryDequeue(out envelope)) return false;
        if (envelope.Message is Udp.Received datagram) Release(Cost(datagram));
        return true;
    }

    public void CleanUp(IActorRef owner, IMessageQueue deadletters)
    {
        while (TryDequeue(out var envelope))
        {
            if (envelope.Message is Udp.Received) side.Counters.CountDrop(DropReason.Undelivered);
            else deadletters.Enqueue(owner, envelope);
        }
    }

    private static int Cost(Udp.Received datagram) => ByteBudget.CostOf(datagram.Data.Count);

    private bool Admit(int cost)
    {
        if (Interlocked.Add(ref _bytes, cost) > limit)
        {
            Interlocked.Add(ref _bytes, -cost);
            side.Counters.CountDrop(DropReason.QueueFull);
            return false;
        }
        if (side.Budget.TryTake(cost)) return true;
        Interlocked.Add(ref _bytes, -cost);
        side.Counters.CountDrop(DropReason.SideMemoryFull);
        return false;
    }

    private void Release(int cost)
    {
        Interlocked.Add(ref _bytes, -cost);
        side.Budget.Return(cost);
    }
}
