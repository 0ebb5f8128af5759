using System.Net;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using TunnelActors.Configuration;
using TunnelActors.Flow;
using TunnelActors.Transport;

namespace TunnelActors.Links;

/// <summary>
/// Dials the far side (<c>tcp.connect</c>) for whoever asks (<see cref="LinkProvider.Acquire"/>): the UDP-listen
/// sessions of a connect side, or the relay host's pool. There is one per side, so a far side that is down or
/// refuses this side's key is backed off once, not once per peer: a dial that fails, a handshake that fails and a
/// connection the far side drops before it carried anything are all failed attempts, redialled after
/// <c>tcp.reconnect</c>'s growing delay; until an attempt has succeeded (at start, and after any failure) only one
/// is made at a time. After
/// <c>tcp.reconnect.max-retries</c> failures in a row it gives up, and with it the side. Connections are its
/// children, each owned from the start by the one who asked first, which it tells when it is admitted.
/// </summary>
public sealed class Dialer : UntypedActor, IWithTimers
{
    public const string Name = "dialer";

    private sealed class Retry { public static readonly Retry Instance = new(); }

    private readonly TunnelSettings _settings;
    private readonly LinkRole _role;
    private readonly LinkedList<(IActorRef Requester, Link.Binding? Binding)> _waiting = new();
    private readonly TcpDials _dialing;
    // Connections not admitted yet, and whose they are.
    private readonly Dictionary<IActorRef, (IActorRef Owner, Link.Binding? Binding)> _handshaking = new();
    private readonly SideResources _side = SideResources.For(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private int _failures;
    // Whether the last attempt got a connection admitted: until one has, and after any fails, one dial at a time.
    private bool _answering;
    private bool _shuttingDown;

    /// <param name="forwardSide">Whether the connections carry flows the far side starts (the relay host) or this side's peers.</param>
    /// <param name="carrier">Who makes TCP connections: Akka.IO's manager, or the TLS carrier.</param>
    public Dialer(TunnelSettings settings, bool forwardSide, IActorRef carrier)
    {
        _settings = settings;
        _dialing = new TcpDials(settings.Tcp, carrier);
        _role = new LinkRole(Auth.HandshakeRole.Dialer, AwaitsFlow: forwardSide, FirstFrameTimeout: TimeSpan.Zero);
    }

    public static Props Props(TunnelSettings settings, bool forwardSide, IActorRef carrier) =>
        Akka.Actor.Props.Create(() => new Dialer(settings, forwardSide, carrier));

    public ITimerScheduler Timers { get; set; } = null!;

    private TcpTunnelSettings Tcp => _settings.Tcp;

    private EndPoint Remote => Tcp.DialTarget;

    // A connection attached elsewhere that fails is its owner's business; the side goes on.
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    protected override void PreStart() => _log.Info("Dialing {0} for tunnel connections", Remote);

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case LinkProvider.Acquire acquire:
                if (_shuttingDown) break;
                Context.Watch(Sender);
                _waiting.AddLast((Sender, acquire.Binding));
                Dial();
                break;
            case LinkProvider.Cancel:
                _waiting.Withdraw(Sender);
                Disown(Sender);
                break;
            case Terminated t:
                _waiting.Withdraw(t.ActorRef);
                Disown(t.ActorRef);
                if (_handshaking.Remove(t.ActorRef, out var lost))
                {
                    Requeue(lost);
                    Failed($"a tunnel connection to {Remote} stopped during its handshake", keyRefused: false);
                }
                StopWhenDone();
                break;
            case Akka.IO.Tcp.Connected connected:
                _dialing.Connected(Timers);
                OnConnected(Sender, connected.RemoteAddress);
                break;
            case Akka.IO.Tcp.CommandFailed { Cmd: Akka.IO.Tcp.Connect } failed:
                Failed($"cannot connect to {Remote} ({_dialing.Failed(Timers, failed)})", keyRefused: false);
                break;
            case TcpDials.Watchdog:
                if (_dialing.Expire(Timers) == 0) break;
                Failed($"connecting to {Remote} got no answer", keyRefused: false);
                Dial();
                break;
            case Link.Admitted admitted:
                if (!_handshaking.Remove(Sender, out var owned)) break;
                _failures = 0;
                _answering = true;
                if (owned.Owner.Equals(Self)) Sender.Tell(new Link.Close("no longer needed"));
                Dial();
                break;
            case Link.Ended ended:
                OnEnded(Sender, ended);
                break;
            case Retry:
                Dial();
                break;
            case Shutdown:
                _shuttingDown = true;
                Timers.Cancel(Retry.Instance);
                foreach (var (requester, _) in _waiting) Context.Unwatch(requester);
                _waiting.Clear();
                foreach (var handshaking in _handshaking.Keys) handshaking.Tell(new Link.Abort("shutting down"));
                StopWhenDone();
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>Dials for those who wait, while no backoff runs: all at once while the far side answers, one at a time while it does not.</summary>
    private void Dial()
    {
        if (_shuttingDown || Timers.IsTimerActive(Retry.Instance)) return;
        // A dial that connects takes the first who waits; one that is proving itself already has its owner. While
        // the far side is not known to answer, the one attempt out includes its handshake.
        var wanted = _answering ? _waiting.Count - _dialing.Count : Math.Min(1, _waiting.Count) - _dialing.Count - _handshaking.Count;
        for (var i = 0; i < wanted; i++) _dialing.Dial(Context, Timers, Remote);
    }

    /// <summary>A dial answered: the connection is made for the first who waits (or for nobody, if all have gone).</summary>
    private void OnConnected(IActorRef connection, EndPoint remote)
    {
        var owned = (Owner: Self, Binding: (Link.Binding?)null);
        if (_waiting.First is { } first)
        {
            _waiting.RemoveFirst();
            owned = first.Value;
        }
        var link = Context.Watch(Context.ActorOf(FramingStage.Props(connection, _role, _settings, remote, owned.Owner, owned.Binding)));
        _handshaking[link] = owned;
    }

    /// <summary>Its connection failed before it was admitted: the one it was for waits again, first in line.</summary>
    private void Requeue((IActorRef Owner, Link.Binding? Binding) owned)
    {
        if (!owned.Owner.Equals(Self) && !_shuttingDown) _waiting.AddFirst(owned);
    }

    private void OnEnded(IActorRef link, Link.Ended ended)
    {
        if (_handshaking.Remove(link, out var owned))
        {
            Requeue(owned);
            if (ended.How != LinkEnd.Closed) Failed($"tunnel connection to {Remote} {Describe(ended)}", ended.How == LinkEnd.KeyRefused);
            Dial();
        }
        else if (ended.How == LinkEnd.LostUnused)
        {
            // The far side took the connection and dropped it before it carried anything: at its limit, or restarting.
            Failed($"the far side {Remote} closed a tunnel connection before it carried anything ({ended.Reason})", keyRefused: false);
        }
        StopWhenDone();
    }

    private static string Describe(Link.Ended ended) => ended.How switch
    {
        LinkEnd.KeyRefused => $"refused: the far side closed the connection without answering this side's proof ({ended.Reason}); " +
                              "both sides need the same tunnel.auth.psk-file and clocks within tunnel.auth.max-clock-skew (its log says which)",
        LinkEnd.Refused => $"refused: {ended.Reason}",
        _ => $"closed during the handshake ({ended.Reason})",
    };

    /// <summary>One failed attempt: backed off; those that fail while a backoff runs were made before it and count once.</summary>
    private void Failed(string reason, bool keyRefused)
    {
        _side.Links.CountFailedAttempt();
        _answering = false;
        if (_shuttingDown || Timers.IsTimerActive(Retry.Instance)) return;
        _failures++;
        if (Tcp.Reconnect.GivesUpAfter(_failures))
        {
            var line = $"gave up on {Remote} after {_failures} failed attempts in a row (tunnel.tcp.reconnect.max-retries): " +
                       (keyRefused ? $"the far side refused this side's key; both sides need the same tunnel.auth.psk-file ({reason})" : reason);
            _log.Error("{0}", line);
            Context.Parent.Tell(new EndpointGaveUp(Name, line));
            Context.Stop(Self);
            return;
        }
        var delay = Tcp.Reconnect.Delay(_failures - 1);
        _side.DialFailures.Log(_log, Remote, $"{reason}; retrying in {delay.TotalSeconds:0.0} s");
        Timers.StartSingleTimer(Retry.Instance, Retry.Instance, delay);
    }

    /// <summary>A requester that went away: a connection still proving itself for it is closed, not handed to anyone.</summary>
    private void Disown(IActorRef requester)
    {
        foreach (var (link, owned) in _handshaking.Where(h => h.Value.Owner.Equals(requester)).ToList())
        {
            _handshaking[link] = (Self, null);
            link.Tell(new Link.Close("not needed any more"));
        }
    }

    private void StopWhenDone()
    {
        if (_shuttingDown && !Context.GetChildren().Any()) Context.Stop(Self);
    }
}
