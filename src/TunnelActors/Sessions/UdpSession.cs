using System.Net;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using TunnelActors.Auth;
using TunnelActors.Flow;
using TunnelActors.Framing;
using TunnelActors.Transport;

namespace TunnelActors.Sessions;

/// <summary>
/// One phantom peer on the UDP-listen side: the source address:port its datagrams came from, and so the
/// way back (a <see cref="UdpSink"/> on the listen socket), and the TCP connection that carries them. It
/// gets the connection (dials, or leases a pooled one), attaches it to the peer and tells the endpoint,
/// which from then on routes the peer's datagrams straight to the connection's stage; the session itself
/// carries none. It ends when the peer is idle for <c>session.idle-timeout</c> or its connection closes;
/// the next datagram from the same peer starts a new session.
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

    private sealed class Redial { public static readonly Redial Instance = new(); }

    private sealed class CloseTimeout { public static readonly CloseTimeout Instance = new(); }

    private sealed class AnswerCheck { public static readonly AnswerCheck Instance = new(); }

    private readonly TunnelContext _context;
    private readonly EndPoint _peer;
    private readonly SocketCapture _listenSocket;
    private readonly LinkSource _link;
    private readonly TrafficCounters _counters;
    private readonly ActivityStamp _activity = new();
    private readonly SideResources _side = SideResources.For(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();

    private IActorRef? _framing;
    private bool _linked;
    private IdleClock _idle = null!;
    private int _dialFailures;
    private (SessionEndReason Reason, string Text) _end = (SessionEndReason.Stopped, "stopped");
    private (SessionEndReason Reason, string Text)? _closingFor;

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

    private FramingStage.Attach Attachment => new(Self, _counters, _activity, _listenSocket.SinkTo((IPEndPoint)_peer));

    protected override void PreStart()
    {
        // Thousands of spoofed source ports must not mean thousands of lines: at most one a minute per address.
        _side.Sessions.CountStarted();
        _side.SessionStarts.Log(_log, _peer, $"Session started for peer {_side.Addresses.Show(_peer)}");
        _idle = new IdleClock(_context.Settings.Session.IdleTimeout, Timers, _activity);
        _idle.Start();
        var unanswered = _context.Settings.Session.UnansweredTimeout;
        if (unanswered > TimeSpan.Zero) Timers.StartSingleTimer(AnswerCheck.Instance, AnswerCheck.Instance, unanswered);
        RequestLink();
    }

    private void RequestLink()
    {
        switch (_link)
        {
            case Dial dial:
                TcpDial.Start(Context, Timers, dial.Remote, _context.Settings.Tcp);
                break;
            case Lease lease:
                lease.Pool.Tell(new TcpListenEndpoint.Lease(Attachment));
                break;
        }
    }

    protected override void OnReceive(object message)
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
                    connected.RemoteAddress, Attachment), "tcp");
                Context.Watch(_framing);
                break;
            case FramingStage.Ready when Sender.Equals(_framing) && !_linked:
                LinkTo(_framing!);
                break;
            case FramingStage.Ready:
                break;
            case TcpListenEndpoint.Leased leased:
                _framing = leased.Framing;
                Context.Watch(_framing);
                LinkTo(_framing);
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
            case FramingStage.ConnectionLost:
            case CloseTimeout:
                End(_closingFor ?? (SessionEndReason.ConnectionLost, "tunnel connection closed"));
                break;
            case Terminated t when t.ActorRef.Equals(_framing):
                End((SessionEndReason.ConnectionLost, "tunnel connection closed"));
                break;
            case IdleClock.Check:
                if (_idle.Expired()) CloseThenEnd((SessionEndReason.Idle, _idle.Reason));
                break;
            case AnswerCheck:
                if (!_activity.FromTunnel)
                    CloseThenEnd((SessionEndReason.Unanswered, $"never answered in {_context.Settings.Session.UnansweredTimeout.TotalSeconds:0.#} s"));
                break;
            case Shutdown:
                CloseThenEnd((SessionEndReason.Shutdown, "shutdown"));
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void RetryDial(string reason)
    {
        var dial = (Dial)_link;
        var delay = _context.Settings.Tcp.Reconnect.Delay(_dialFailures++);
        // Every new peer dials: a far side that is down must not mean a line per peer per retry.
        _side.DialFailures.Log(_log, dial.Remote,
            $"Peer {_side.Addresses.Show(_peer)}: cannot connect to {dial.Remote} ({reason}); retrying in {delay.TotalSeconds:0.0} s");
        Timers.StartSingleTimer(Redial.Instance, Redial.Instance, delay);
    }

    private void LinkTo(IActorRef framing)
    {
        _linked = true;
        Context.Parent.Tell(new Linked(framing));
    }

    /// <summary>Writes what the connection still holds and closes it (FIN) before the session stops.</summary>
    private void CloseThenEnd((SessionEndReason Reason, string Text) reason)
    {
        if (_closingFor is not null) return;
        if (_framing is null)
        {
            End(reason);
            return;
        }
        _closingFor = reason;
        _framing.Tell(FramingStage.Close.Instance);
        Timers.StartSingleTimer(CloseTimeout.Instance, CloseTimeout.Instance, _context.Settings.Tcp.CloseTimeout);
    }

    private void End((SessionEndReason Reason, string Text) reason)
    {
        _end = reason;
        Context.Stop(Self);
    }

    protected override void PostStop()
    {
        _side.Sessions.CountEnded(_end.Reason);
        _side.SessionEnds.Log(_log, _peer, $"Session ended for peer {_side.Addresses.Show(_peer)} ({_end.Text}): {_counters}");
    }
}
