using Akka.Actor;
using Akka.Event;
using TunnelActors.Configuration;
using TunnelActors.Flow;
using TunnelActors.Links;
using TunnelActors.Sessions;
using TunnelActors.Transport;

namespace TunnelActors.Endpoints;

/// <summary>
/// TCP connect + UDP forward. Keeps <c>tcp.pool-size</c> dialed connections idle, each a
/// <see cref="ForwardSession"/>, for the far side to bind new peers to; a connection that carries its first
/// frame is replaced at once. When a connection is taken while no other was idle (a burst of new peers on the
/// far side), the pool doubles its target, up to <c>tcp.pool-max</c>, so that the burst is served by dials in
/// parallel rather than one round trip per connection; once no burst has emptied it for
/// <c>tcp.pool-shrink-after</c>, it halves again and closes what is surplus. With <c>pool-size = 0</c> it
/// keeps exactly one connection and redials it when lost (the udptunnel symmetric case). Failed or lost
/// connections are redialled with exponential backoff and jitter; after <c>tcp.reconnect.max-retries</c>
/// consecutive failures (0 = never) it gives up.
/// </summary>
public sealed class TcpDialPool : UntypedActor, IWithTimers
{
    public const string Name = "tcp";

    private sealed class Refill { public static readonly Refill Instance = new(); }

    private sealed class Shrink { public static readonly Shrink Instance = new(); }

    private readonly TunnelContext _context;
    private readonly HashSet<IActorRef> _idle = new();
    private readonly HashSet<IActorRef> _retiring = new();
    // Idle connections that are up (the rest of _idle are still dialing).
    private readonly HashSet<IActorRef> _ready = new();
    private int _target;
    private bool _ranDry;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private int _failures;
    private bool _shuttingDown;

    public TcpDialPool(TunnelContext context) => _context = context;

    public static Props Props(TunnelContext context) => Akka.Actor.Props.Create(() => new TcpDialPool(context));

    public ITimerScheduler Timers { get; set; } = null!;

    private TcpTunnelSettings Tcp => _context.Settings.Tcp;

    private int IdleTarget => Math.Max(1, Tcp.PoolSize);

    private int MaxTarget => Math.Max(IdleTarget, Tcp.PoolMax);

    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(e =>
        {
            _log.Error(e, "A tunnel connection failed and was stopped; others go on");
            return Directive.Stop;
        });

    protected override void PreStart()
    {
        _log.Info("Dialing {0} (keeping {1})", Tcp.DialTarget,
            Tcp.PoolSize == 0 ? "one connection" : $"{Tcp.PoolSize} idle connections");
        Context.Parent.Tell(new EndpointBound(Name, Tcp.Endpoint));
        _target = IdleTarget;
        Fill();
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case ForwardSession.LinkUp:
                _failures = 0;
                if (_idle.Contains(Sender)) _ready.Add(Sender);
                break;
            case ForwardSession.Activated when Tcp.PoolSize > 0:
                _idle.Remove(Sender);
                _ready.Remove(Sender);
                if (_ready.Count == 0) Grow();
                Fill();
                break;
            case Shrink:
                ShrinkUnlessDry();
                break;
            case ForwardSession.Activated:
                break;
            case Terminated t:
                OnSessionEnded(t.ActorRef);
                break;
            case Refill:
                Fill();
                break;
            case Shutdown:
                _shuttingDown = true;
                Timers.CancelAll();
                foreach (var child in Context.GetChildren()) child.Tell(Shutdown.Instance);
                StopWhenDone();
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void OnSessionEnded(IActorRef session)
    {
        var wasIdle = _idle.Remove(session);
        _ready.Remove(session);
        if (_retiring.Remove(session))
        {
            Published();
            if (_shuttingDown) StopWhenDone();
            return;
        }
        if (_shuttingDown)
        {
            StopWhenDone();
            return;
        }
        if (!wasIdle || Timers.IsTimerActive(Refill.Instance)) return;

        _failures++;
        if (Tcp.Reconnect.GivesUpAfter(_failures))
        {
            _log.Error("Giving up on {0} after {1} failed connections (tcp.reconnect.max-retries)", Tcp.DialTarget, _failures);
            Context.Stop(Self);
            return;
        }
        var delay = Tcp.Reconnect.Delay(_failures - 1);
        _log.Debug("Redialing {0} in {1:0.0} s", Tcp.DialTarget, delay.TotalSeconds);
        Timers.StartSingleTimer(Refill.Instance, Refill.Instance, delay);
    }

    private void Fill()
    {
        var sessions = Context.GetChildren().Count();
        while (_idle.Count < _target && sessions++ < _context.Settings.Session.MaxSessions)
        {
            var session = Context.ActorOf(ForwardSession.Props(_context, new ForwardSession.Dial(Tcp.DialTarget)));
            Context.Watch(session);
            _idle.Add(session);
        }
        Published();
    }

    /// <summary>A connection was taken while no other was up and idle: the far side has a burst of new peers. Dial for twice as many at once.</summary>
    private void Grow()
    {
        _ranDry = true;
        if (_target >= MaxTarget) return;
        _target = Math.Min(MaxTarget, _target * 2);
        _log.Debug("Connections taken faster than replaced; keeping {0} idle", _target);
        if (!Timers.IsTimerActive(Shrink.Instance))
            Timers.StartPeriodicTimer(Shrink.Instance, Shrink.Instance, Tcp.PoolShrinkAfter);
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
            _ready.Remove(surplus);
            _retiring.Add(surplus);
            surplus.Tell(Shutdown.Instance);
        }
        Published();
    }

    private void Published() => SideResources.For(Context.System).Links.Pooled = _idle.Count;

    private void StopWhenDone()
    {
        if (!Context.GetChildren().Any()) Context.Stop(Self);
    }
}
