using Akka.Actor;
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

    private readonly LinkedList<IActorRef> _idle = new();
    private readonly LinkedList<(IActorRef Requester, Link.Binding? Binding)> _waiting = new();
    private readonly SideResources _side = SideResources.For(Context.System);

    public static Props Props() => Akka.Actor.Props.Create(() => new LeasePool());

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Link.Admitted:
                Context.Watch(Sender);
                if (_waiting.First is { } first)
                {
                    _waiting.RemoveFirst();
                    Context.Unwatch(first.Value.Requester);
                    Lease(Sender, first.Value.Requester, first.Value.Binding);
                }
                else
                {
                    _idle.AddLast(Sender);
                }
                Published();
                break;
            case LinkProvider.Acquire acquire:
                OnAcquire(Sender, acquire.Binding);
                break;
            case LinkProvider.Cancel:
                Context.Unwatch(Sender);
                _waiting.Withdraw(Sender);
                break;
            case Link.Ended:
                // Gone before its Terminated: never lease it meanwhile.
                RemoveIdle(Sender);
                Published();
                break;
            case Terminated t:
                _waiting.Withdraw(t.ActorRef);
                RemoveIdle(t.ActorRef);
                Published();
                break;
            case Shutdown:
                foreach (var link in _idle) link.Tell(new Link.Close("shutting down"));
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
            Lease(idle.Value, requester, binding);
            Published();
        }
        else
        {
            Context.Watch(requester);
            _waiting.AddLast((requester, binding));
        }
    }

    private void Lease(IActorRef link, IActorRef requester, Link.Binding? binding)
    {
        Context.Unwatch(link);
        link.Tell(new Link.Attach(requester, binding));
        requester.Tell(new LinkProvider.Leased(link));
    }

    private void RemoveIdle(IActorRef link)
    {
        for (var node = _idle.First; node is not null; node = node.Next)
        {
            if (!node.Value.Equals(link)) continue;
            _idle.Remove(node);
            return;
        }
    }

    private void Published() => _side.Links.Pooled = _idle.Count;
}
