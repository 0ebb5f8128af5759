using System.Net;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using TunnelActors.Auth;
using TunnelActors.Endpoints;
using TunnelActors.Flow;
using TunnelActors.Links;
using TunnelActors.Observability;
using TunnelActors.Transport;

namespace TunnelActors.Sessions;

/// <summary>
/// One phantom peer on the UDP-listen side: the source address:port its datagrams came from, and so the
/// way back (a <see cref="UdpSink"/> on the listen socket), and the TCP connection that carries them. It
/// gets the connection (dials, or leases a pooled one), attaches it to the peer and tells the endpoint,
/// which from then on routes the peer's datagrams straight to the connection's stage; the session itself
/// carries none. When the connection is lost, the session keeps the peer for <c>session.reconnect-grace</c>
/// while it gets another (the endpoint holds the peer's datagrams meanwhile), so the peer sees a pause, not a
/// reset. It ends when the peer is idle for <c>session.idle-timeout</c>, or no connection came back in time;
/// the next datagram from the same peer then starts a new session.
/// </summary>
public sealed class UdpSession : UntypedActor, IWithTimers
{
    /// <summary>How a session gets its TCP connection.</summary>
    public abstract record LinkSource;

    /// <summary>Dial a connection of its own (UDP listen + TCP connect).</summary>
    public sealed record Dial(EndPoint Remote) : LinkSource;

    /// <summary>Take an idle accepted connection from this pool (UDP listen + TCP listen).</summary>
    public sealed record Lease(IActorRef Pool) : LinkSource;

    /// <summary>Session → endpoint: the peer's connection is up; route its datagrams to this stage.</summary>
    public sealed record Linked(IActorRef Stage);

    /// <summary>
    /// Session → endpoint: the connection is gone and another is on its way; hold the peer's datagrams, and
    /// stop the old stage after the last one routed to it (so none goes to a dead letter).
    /// </summary>
    public sealed class Unlinked { public static readonly Unlinked Instance = new(); }

    /// <summary>
    /// Endpoint → session, after <see cref="Unlinked"/>: the peer sent a datagram, which the endpoint holds; get a
    /// connection for it. A session asks for a new connection only with something to send: a leased connection
    /// that carries nothing would never be replaced in the relay host's pool (it replaces a connection when
    /// its first frame arrives), and a burst of silent sessions would drain it.
    /// </summary>
    public sealed class PeerSent { public static readonly PeerSent Instance = new(); }

    /// <summary>
    /// Session → endpoint: the session is ending; route nothing more to it, and tell the stage to close
    /// (write what it holds, then FIN) after the last datagram routed to it.
    /// </summary>
    public sealed class Ending { public static readonly Ending Instance = new(); }

    private sealed class Redial { public static readonly Redial Instance = new(); }

    private sealed class CloseTimeout { public static readonly CloseTimeout Instance = new(); }

    private sealed class AnswerCheck { public static readonly AnswerCheck Instance = new(); }

    private sealed class GraceOver { public static readonly GraceOver Instance = new(); }

    private sealed class LeaseUnanswered { public static readonly LeaseUnanswered Instance = new(); }

    private readonly TunnelContext _context;
    private readonly EndPoint _peer;
    private readonly SocketCapture _listenSocket;
    private readonly LinkSource _link;
    private readonly TrafficCounters _counters;
    private readonly ActivityStamp _activity = new();
    private readonly SideResources _side = SideResources.For(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();

    private IActorRef? _framing;
    private bool _routed;
    private IdleClock _idle = null!;
    private int _dialFailures;
    private bool _reconnecting;
    private (SessionEndReason Reason, string Text) _end = (SessionEndReason.Stopped, "stopped");

    public UdpSession(TunnelContext context, EndPoint peer, SocketCapture listenSocket, LinkSource link)
    {
        _context = context;
        _peer = peer;
        _listenSocket = listenSocket;
        _link = link;
        _counters = new TrafficCounters(context.Counters);
    }

    public static Props Props(TunnelContext context, EndPoint peer, SocketCapture listenSocket, LinkSource link) =>
        Akka.Actor.Props.Create(() => new UdpSession(context, peer, listenSocket, link));

    public ITimerScheduler Timers { get; set; } = null!;

    // A restarted stage would come back with a stale write acknowledgement in flight.
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    private FramingStage.Attach Attachment => new(Self, _counters, _activity, _listenSocket.SinkTo((IPEndPoint)_peer, peer: true));

    private TimeSpan Grace => _context.Settings.Session.ReconnectGrace;

    protected override void PreStart()
    {
        _side.Sessions.CountStarted();
        // Thousands of spoofed source ports must not mean thousands of lines: at most one a minute per address.
        _side.SessionStarts.Log(_log, _peer, $"Session started for peer {_side.Addresses.Show(_peer)}");
        _idle = new IdleClock(_context.Settings.Session.IdleTimeout, Timers, _activity);
        _idle.Start();
        var unanswered = _context.Settings.Session.UnansweredTimeout;
        if (unanswered > TimeSpan.Zero) Timers.StartSingleTimer(AnswerCheck.Instance, AnswerCheck.Instance, unanswered);
        RequestLink();
        Become(Connecting);
    }

    protected override void OnReceive(object message) => Unhandled(message);

    private void RequestLink()
    {
        switch (_link)
        {
            case Dial dial:
                TcpDial.Start(Context, Timers, dial.Remote, _context.Settings.Tcp);
                break;
            case Lease lease:
                lease.Pool.Tell(new TcpListenEndpoint.Lease(Attachment));
                // The pool answers when a connection is free; ask again if that takes long (the pool keeps one place).
                Timers.StartSingleTimer(LeaseUnanswered.Instance, LeaseUnanswered.Instance, _context.Settings.Tcp.ConnectTimeout);
                break;
        }
    }

    /// <summary>Waiting for a connection (a dial, a lease, a handshake); the endpoint holds the peer's datagrams.</summary>
    private void Connecting(object message)
    {
        switch (message)
        {
            case Tcp.Connected when _framing is not null:
                Sender.Tell(Tcp.Abort.Instance);
                break;
            case Tcp.Connected connected:
                TcpDial.Answered(Timers);
                Timers.Cancel(Redial.Instance);
                // The endpoint routes the peer to the connection once its handshake has passed (Ready): until then
                // the peer's datagrams wait in its queue, where session.queue-max-delay applies.
                _framing = Context.ActorOf(FramingStage.Props(Sender, _context.Codec, _context.Settings, HandshakeRole.Dialer,
                    connected.RemoteAddress, Attachment));
                Context.Watch(_framing);
                break;
            case FramingStage.Ready when Sender.Equals(_framing):
                LinkTo(_framing!);
                break;
            case TcpListenEndpoint.Leased leased:
                Timers.Cancel(LeaseUnanswered.Instance);
                _framing = leased.Framing;
                Context.Watch(_framing);
                LinkTo(_framing);
                break;
            case LeaseUnanswered:
                RequestLink();
                break;
            case Tcp.CommandFailed { Cmd: Tcp.Connect } failed:
                TcpDial.Answered(Timers);
                RetryDial(TcpDial.Reason(failed));
                break;
            case TcpDial.Unanswered:
                RetryDial("no answer");
                break;
            case Redial:
                RequestLink();
                break;
            case FramingStage.ConnectionLost when Sender.Equals(_framing):
            case Terminated t when t.ActorRef.Equals(_framing):
                // The connection closed before it was ever routed to, as after a failed handshake.
                DropFraming();
                if (_reconnecting) RetryDial("the connection closed during its handshake");
                else End((SessionEndReason.ConnectionLost, "tunnel connection closed"));
                break;
            case GraceOver:
                End((SessionEndReason.ConnectionLost, $"no tunnel connection again within {Grace.TotalSeconds:0.#} s"));
                break;
            default:
                Always(message);
                break;
        }
    }

    /// <summary>Linked: the endpoint routes the peer's datagrams to the stage, which writes them and sends back the replies.</summary>
    private void Relaying(object message)
    {
        switch (message)
        {
            case FramingStage.ConnectionLost when Sender.Equals(_framing):
            case Terminated t when t.ActorRef.Equals(_framing):
                ConnectionLost();
                break;
            default:
                Always(message);
                break;
        }
    }

    /// <summary>Closing: the stage writes what it holds, then FIN; the session ends when it is done or after <c>tcp.close-timeout</c>.</summary>
    private void Closing(object message)
    {
        switch (message)
        {
            case FramingStage.ConnectionLost when Sender.Equals(_framing):
            case Terminated t when t.ActorRef.Equals(_framing):
            case CloseTimeout:
                Context.Stop(Self);
                break;
            case Tcp.Connected:
                Sender.Tell(Tcp.Abort.Instance);
                break;
            case TcpListenEndpoint.Leased leased:
                leased.Framing.Tell(PoisonPill.Instance);
                break;
        }
    }

    private void Always(object message)
    {
        switch (message)
        {
            case Tcp.Connected:
                // A dial answered after it was given up on.
                Sender.Tell(Tcp.Abort.Instance);
                break;
            case TcpListenEndpoint.Leased extra:
                // A lease asked for twice, answered twice: the second connection is not needed.
                extra.Framing.Tell(PoisonPill.Instance);
                break;
            case IdleClock.Check:
                if (_idle.Expired()) End((SessionEndReason.Idle, _idle.Reason));
                break;
            case AnswerCheck:
                if (!_activity.FromTunnel)
                    End((SessionEndReason.Unanswered, $"never answered in {_context.Settings.Session.UnansweredTimeout.TotalSeconds:0.#} s"));
                break;
            case Shutdown:
                End((SessionEndReason.Shutdown, "shutdown"));
                break;
            case FramingStage.Ready:
            case FramingStage.ConnectionLost:
            case Terminated:
            case GraceOver:
            case Redial:
            case LeaseUnanswered:
            case PeerSent:
                // From a connection this session has already let go of, or a timer that no longer applies.
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>Keeps the peer while another connection comes, unless there is no grace or the side is stopping.</summary>
    private void ConnectionLost()
    {
        if (Grace <= TimeSpan.Zero)
        {
            End((SessionEndReason.ConnectionLost, "tunnel connection closed"));
            return;
        }
        DropFraming();
        Context.Parent.Tell(Unlinked.Instance);
        _reconnecting = true;
        Timers.StartSingleTimer(GraceOver.Instance, GraceOver.Instance, Grace);
        _log.Debug("Peer {0}: tunnel connection lost; keeping the session {1:0.#} s for another", _side.Addresses.Show(_peer), Grace.TotalSeconds);
        Become(AwaitingPeer);
    }

    /// <summary>Connection lost, within the grace: the next datagram from the peer (held by the endpoint) asks for a new one.</summary>
    private void AwaitingPeer(object message)
    {
        switch (message)
        {
            case PeerSent:
                RequestLink();
                Become(Connecting);
                break;
            case GraceOver:
                End((SessionEndReason.ConnectionLost, $"tunnel connection closed; nothing to send in the {Grace.TotalSeconds:0.#} s after"));
                break;
            default:
                Always(message);
                break;
        }
    }

    private void DropFraming()
    {
        if (_framing is null) return;
        Context.Unwatch(_framing);
        // A stage the endpoint routed to is stopped by the endpoint, after the last datagram it sent there.
        if (!_routed) Context.Stop(_framing);
        _framing = null;
        _routed = false;
    }

    private void RetryDial(string reason)
    {
        if (_link is not Dial dial)
        {
            RequestLink();
            return;
        }
        var delay = _context.Settings.Tcp.Reconnect.Delay(_dialFailures++);
        // Every new peer dials: a far side that is down must not mean a line per peer per retry.
        _side.DialFailures.Log(_log, dial.Remote,
            $"Peer {_side.Addresses.Show(_peer)}: cannot connect to {dial.Remote} ({reason}); retrying in {delay.TotalSeconds:0.0} s");
        Timers.StartSingleTimer(Redial.Instance, Redial.Instance, delay);
    }

    private void LinkTo(IActorRef framing)
    {
        _dialFailures = 0;
        if (_reconnecting)
        {
            _reconnecting = false;
            Timers.Cancel(GraceOver.Instance);
            _side.Sessions.CountReconnected();
            _log.Debug("Peer {0}: tunnel connection back", _side.Addresses.Show(_peer));
        }
        Context.Parent.Tell(new Linked(framing));
        _routed = true;
        Become(Relaying);
    }

    /// <summary>
    /// Ends the session. A linked connection is closed by way of the endpoint (so that it follows the last
    /// datagram routed to it), writing what it holds first; anything else is dropped at once.
    /// </summary>
    private void End((SessionEndReason Reason, string Text) reason)
    {
        _end = reason;
        Timers.Cancel(GraceOver.Instance);
        Timers.Cancel(Redial.Instance);
        Context.Parent.Tell(Ending.Instance);
        if (_framing is null)
        {
            Context.Stop(Self);
            return;
        }
        // A stage still in its handshake has had nothing routed to it: the session closes it itself.
        if (!_routed) _framing.Tell(FramingStage.Close.Instance);
        Timers.StartSingleTimer(CloseTimeout.Instance, CloseTimeout.Instance, _context.Settings.Tcp.CloseTimeout);
        Become(Closing);
    }

    protected override void PostStop()
    {
        _side.Sessions.CountEnded(_end.Reason);
        _side.SessionEnds.Log(_log, _peer, $"Session ended for peer {_side.Addresses.Show(_peer)} ({_end.Text}): {_counters}");
    }
}
