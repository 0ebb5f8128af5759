using Akka.Actor;
using Akka.Event;
using TunnelActors.Sessions;

namespace TunnelActors.Transport;

/// <summary>
/// TCP connect + UDP forward. Keeps <c>tcp.pool-size</c> dialed connections idle, each a
/// <see cref="ForwardSession"/>, for the far side to bind new peers to; a connection that carries its first
/// frame is replaced at once. With <c>pool-size = 0</c> it keeps exactly one connection and redials it when
/// lost (the udptunnel symmetric case). Failed or lost connections are redialled with exponential backoff
/// and jitter; after <c>tcp.reconnect.max-retries</c> consecutive failures (0 = never) it gives up.
/// </summary>
public sealed class TcpDialPool : UntypedActor, IWithTimers
{
    public const string Name = "tcp";

    private sealed class Refill { public static readonly Refill Instance = new(); }

    private readonly TunnelContext _context;
    private readonly HashSet<IActorRef> _idle = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private int _failures;
    private bool _shuttingDown;

    public TcpDialPool(TunnelContext context) => _context = context;

    public static Props Props(TunnelContext context) => Akka.Actor.Props.Create(() => new TcpDialPool(context));

    public ITimerScheduler Timers { get; set; } = null!;

    private TcpSettings Tcp => _context.Settings.Tcp;

    private int IdleTarget => Math.Max(1, Tcp.PoolSize);

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
        Fill();
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case ForwardSession.LinkUp:
                _failures = 0;
                break;
            case ForwardSession.Activated when Tcp.PoolSize > 0:
                _idle.Remove(Sender);
                Fill();
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
        while (_idle.Count < IdleTarget && Context.GetChildren().Count() < _context.Settings.Session.MaxSessions)
        {
            var session = Context.ActorOf(ForwardSession.Props(_context, new ForwardSession.Dial(Tcp.DialTarget)));
            Context.Watch(session);
            _idle.Add(session);
        }
    }

    private void StopWhenDone()
    {
        if (!Context.GetChildren().Any()) Context.Stop(Self);
    }
}
