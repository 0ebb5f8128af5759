using Akka.Actor;
using TunnelActors.Auth;
using TunnelActors.Flow;
using TunnelActors.Transport;

namespace TunnelActors.Links;

/// <summary>
/// The seed NAT box's connections: it cannot dial, so the relay host keeps connections open to it, and each new
/// peer's session leases one (<see cref="LinkProvider.Acquire"/>). The acceptor's connections are this pool's
/// from the start; once admitted they wait here, idle, first come first leased; a session that finds none waits
/// for the next, in the order they asked.
/// </summary>
public sealed class LeasePool : UntypedActor
{
    public const string Name = "pool";

    private readonly LinkedList<(IActorRef Link, FlowId? Flow)> _idle = new();
    private readonly LinkedList<(IActorRef Requester, Link.Binding? Binding)> _waiting = new();
    private readonly SideResources _side = SideResources.For(Context.System);

    public static Props Props() => Akka.Actor.Props.Create(() => new LeasePool());

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Link.Admitted admitted:
                Context.Watch(Sender);
                if (_waiting.First is { } first)
                {
                    _waiting.RemoveFirst();
                    Lease(Sender, admitted.Flow, first.Value.Requester, first.Value.Binding);
                }
                else
                {
                    _idle.AddLast((Sender, admitted.Flow));
                }
                Published();
                break;
            case LinkProvider.Acquire acquire:
                OnAcquire(Sender, acquire.Binding);
                break;
            case LinkProvider.Cancel:
                Withdraw(Sender);
                break;
            case Link.Ended:
                break;
            case Terminated t:
                Withdraw(t.ActorRef);
                RemoveIdle(t.ActorRef);
                Published();
                break;
            case Shutdown:
                foreach (var (link, _) in _idle) link.Tell(new Link.Close("shutting down"));
                Context.Stop(Self);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void OnAcquire(IActorRef requester, Link.Binding? binding)
    {
        if (_idle.First is { } idle)
        {
            _idle.RemoveFirst();
            Lease(idle.Value.Link, idle.Value.Flow, requester, binding);
            Published();
        }
        else
        {
            Context.Watch(requester);
            _waiting.AddLast((requester, binding));
        }
    }

    private void Lease(IActorRef link, FlowId? flow, IActorRef requester, Link.Binding? binding)
    {
        Context.Unwatch(link);
        link.Tell(new Link.Attach(requester, binding));
    }

    private void Withdraw(IActorRef requester)
    {
        for (var node = _waiting.First; node is not null;)
        {
            var next = node.Next;
            if (node.Value.Requester.Equals(requester)) _waiting.Remove(node);
            node = next;
        }
    }

    private void RemoveIdle(IActorRef link)
    {
        for (var node = _idle.First; node is not null; node = node.Next)
        {
            if (!node.Value.Link.Equals(link)) continue;
            _idle.Remove(node);
            return;
        }
    }

    private void Published() => _side.Links.Pooled = _idle.Count;
}
