using Akka.Actor;
using Akka.Event;
using TunnelActors.Auth;
using TunnelActors.Configuration;
using TunnelActors.Flow;
using TunnelActors.Links;
using TunnelActors.Observability;
using TunnelActors.Transport;

namespace TunnelActors.Sessions;

/// <summary>
/// The UDP-forward side's flows. A connection on which the far side starts a flow
/// (<see cref="Link.FirstFrame"/>, from the connection itself or passed on by the relay host's pool) gets a
/// new <see cref="ForwardFlow"/>, or, when it names a flow this side still keeps, resumes that one. At most
/// <c>session.max-sessions</c> flows at once; a failing flow is stopped alone.
/// </summary>
public sealed class FlowTable : UntypedActor
{
    public const string Name = "flows";

    private readonly TunnelSettings _settings;
    private readonly IActorRef _udp;
    private readonly Dictionary<FlowId, IActorRef> _byId = new();
    private readonly Dictionary<IActorRef, FlowId> _ids = new();
    private readonly SideResources _side = SideResources.For(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private long _started;
    private bool _shuttingDown;

    /// <param name="udp">Where forward sockets are bound: the side's own UDP sockets, or Akka.IO's (<c>tunnel.udp.io</c>).</param>
    public FlowTable(TunnelSettings settings, IActorRef udp)
    {
        _settings = settings;
        _udp = udp;
    }

    public static Props Props(TunnelSettings settings, IActorRef udp) => Akka.Actor.Props.Create(() => new FlowTable(settings, udp));

    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(e =>
        {
            _log.Error(e, "A flow failed and was stopped; others go on");
            return Directive.Stop;
        });

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Link.FirstFrame first:
                Start(Sender, first);
                break;
            case Link.Admitted:
            case Link.Ended:
                // A connection is the flow table's until the far side starts a flow on it; one that ends first is nobody's loss.
                break;
            case Terminated t:
                if (_ids.Remove(t.ActorRef, out var id)) _byId.Remove(id);
                StopWhenDone();
                break;
            case Shutdown:
                _shuttingDown = true;
                foreach (var flow in Context.GetChildren()) flow.Tell(Shutdown.Instance);
                StopWhenDone();
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void Start(IActorRef link, Link.FirstFrame first)
    {
        var id = first.Flow;
        if (_shuttingDown)
        {
            link.Tell(new Link.Abort("shutting down"));
            return;
        }
        if (id is { } named && _byId.TryGetValue(named, out var kept))
        {
            kept.Tell(new ForwardFlow.Resume(link));
            return;
        }
        if (Context.GetChildren().Count() >= _settings.Session.MaxSessions)
        {
            _side.Counters.CountDrop(DropReason.SessionLimit);
            link.Tell(new Link.Abort("session.max-sessions flows already"));
            return;
        }
        var origin = $"with {_side.Addresses.Show(first.Remote)}";
        var flow = Context.Watch(Context.ActorOf(ForwardFlow.Props(_settings, _udp, link, id, origin), $"flow-{++_started}"));
        if (id is not { } flowId) return;
        _byId[flowId] = flow;
        _ids[flow] = flowId;
    }

    private void StopWhenDone()
    {
        if (_shuttingDown && !Context.GetChildren().Any()) Context.Stop(Self);
    }
}
