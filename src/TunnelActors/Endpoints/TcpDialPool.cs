using Akka.Actor;
using Akka.Event;
using TunnelActors.Configuration;
using TunnelActors.Flow;
using TunnelActors.Links;
using TunnelActors.Transport;

namespace TunnelActors.Endpoints;

/// <summary>
/// The relay host's connections to the NAT box (TCP connect + UDP forward): it keeps <c>tcp.pool-size</c> admitted
/// connections idle, got from the <see cref="Dialer"/>, for the far side to start new flows on. A connection that
/// starts one goes to the flow table and is replaced at once. When one is taken while no other was idle (a burst
/// of new peers on the far side), the pool doubles its target, up to <c>tcp.pool-max</c>, so the burst is served
/// by dials in parallel; once no burst has emptied it for <c>tcp.pool-shrink-after</c>, it halves again and closes
/// what is surplus (a FIN, after which what the far side still sends on it is counted). With <c>pool-size = 0</c>
/// it keeps exactly one. Failed dials are the dialer's to back off and give up on.
/// </summary>
public sealed class TcpDialPool : UntypedActor, IWithTimers
{
    public const string Name = "tcp";

    private sealed class Shrink { public static readonly Shrink Instance = new(); }

    private readonly TunnelSettings _settings;
    private readonly IActorRef _dialer;
    private readonly IActorRef _flows;
    private readonly HashSet<IActorRef> _idle = new();
    private readonly SideResources _side = SideResources.For(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private int _asked;
    private int _target;
    private bool _ranDry;

    public TcpDialPool(TunnelSettings settings, IActorRef dialer, IActorRef flows)
    {
        _settings = settings;
        _dialer = dialer;
        _flows = flows;
    }

    public static Props Props(TunnelSettings settings, IActorRef dialer, IActorRef flows) =>
        Akka.Actor.Props.Create(() => new TcpDialPool(settings, dialer, flows));

    public ITimerScheduler Timers { get; set; } = null!;

    private TcpTunnelSettings Tcp => _settings.Tcp;

    private int IdleTarget => Math.Max(1, Tcp.PoolSize);

    private int MaxTarget => Math.Max(IdleTarget, Tcp.PoolMax);

    protected override void PreStart()
    {
        _log.Info("Keeping {0} to {1}", Tcp.PoolSize == 0 ? "one connection" : $"{Tcp.PoolSize} idle connections", Tcp.DialTarget);
        Context.Parent.Tell(new EndpointBound(Name, Tcp.Endpoint));
        _target = IdleTarget;
        Fill();
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Link.Admitted:
                _asked--;
                _idle.Add(Context.Watch(Sender));
                Published();
                break;
            case Link.FirstFrame:
                // The far side started a flow on it: the flow table takes it over, and another is dialed.
                _idle.Remove(Sender);
                Context.Unwatch(Sender);
                _flows.Forward(message);
                if (Tcp.PoolSize > 0 && _idle.Count == 0) Grow();
                Fill();
                break;
            case Link.Ended:
                break;
            case Terminated t:
                if (_idle.Remove(t.ActorRef)) Fill();
                break;
            case Shrink:
                ShrinkUnlessDry();
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

    /// <summary>Asks the dialer for what the target lacks; its answers come as they are dialed and admitted.</summary>
    private void Fill()
    {
        for (; _idle.Count + _asked < _target; _asked++) _dialer.Tell(new LinkProvider.Acquire(null));
        Published();
    }

    /// <summary>A connection was taken while no other was idle: the far side has a burst of new peers. Keep twice as many.</summary>
    private void Grow()
    {
        _ranDry = true;
        if (_target >= MaxTarget) return;
        _target = Math.Min(MaxTarget, _target * 2);
        _log.Debug("Connections taken faster than replaced; keeping {0} idle", _target);
        if (!Timers.IsTimerActive(Shrink.Instance)) Timers.StartPeriodicTimer(Shrink.Instance, Shrink.Instance, Tcp.PoolShrinkAfter);
    }

    /// <summary>No burst for a while: halve the target and close the idle connections beyond it.</summary>
    private void ShrinkUnlessDry()
    {
        if (_ranDry)
        {
            _ranDry = false;
            return;
        }
        _target = Math.Max(IdleTarget, _target / 2);
        if (_target == IdleTarget) Timers.Cancel(Shrink.Instance);
        foreach (var surplus in _idle.Skip(_target).ToList())
        {
            _idle.Remove(surplus);
            Context.Unwatch(surplus);
            surplus.Tell(new Link.Close("the pool shrinks"));
        }
        Published();
    }

    private void Published() => _side.Links.Pooled = _idle.Count;
}
