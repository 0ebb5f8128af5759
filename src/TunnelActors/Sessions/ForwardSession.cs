using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using TunnelActors.Auth;
using TunnelActors.Flow;
using TunnelActors.Links;
using TunnelActors.Observability;
using TunnelActors.Transport;

namespace TunnelActors.Sessions;

/// <summary>
/// One tunnel connection on the UDP-forward side, with a UDP socket of its own towards the fixed target,
/// so that the target's replies go back on the connection their request came from. The socket is bound
/// when the first frame arrives (an idle pooled connection holds none), with the connection's stage as its
/// handler: datagrams cross between the socket and the connection without passing through the session.
/// Until the socket is bound, the stage reads no further. The session ends when its connection closes or,
/// once it has carried traffic, after <c>session.idle-timeout</c> without a datagram either way; it
/// releases the socket (acknowledged unbind) before it stops, and its stage stops with it.
/// </summary>
public sealed class ForwardSession : UntypedActor, IWithTimers
{
    public abstract record Link;

    /// <summary>A connection the TCP listener accepted.</summary>
    public sealed record Accepted(IActorRef Connection, EndPoint Remote) : Link;

    /// <summary>Dial this address (TCP connect side).</summary>
    public sealed record Dial(EndPoint Remote) : Link;

    /// <summary>Session → parent: the dialed connection is up.</summary>
    public sealed class LinkUp { public static readonly LinkUp Instance = new(); }

    /// <summary>Session → parent: the first frame arrived; a pooled connection is now in use.</summary>
    public sealed class Activated { public static readonly Activated Instance = new(); }

    private sealed class EndTimeout { public static readonly EndTimeout Instance = new(); }

    private sealed class AnswerCheck { public static readonly AnswerCheck Instance = new(); }

    private readonly TunnelContext _context;
    private readonly Link _link;
    private readonly IPEndPoint _target;
    private readonly SocketCapture _socket;
    private readonly TrafficCounters _counters;
    private readonly ActivityStamp _activity = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();

    private IActorRef? _framing;
    private IActorRef? _socketActor;
    private bool _binding;
    private bool _active;
    private bool _ending;
    private bool _connectionDone = true;
    private IdleClock _idle = null!;
    private (SessionEndReason Reason, string Text) _end = (SessionEndReason.Stopped, "stopped");
    private string _connection = "";

    public ForwardSession(TunnelContext context, Link link)
    {
        _context = context;
        _link = link;
        _target = context.Settings.Udp.Endpoint;
        _socket = new SocketCapture(context.Settings.Udp);
        _counters = new TrafficCounters(context.Counters);
    }

    public static Props Props(TunnelContext context, Link link) =>
        Akka.Actor.Props.Create(() => new ForwardSession(context, link));

    public ITimerScheduler Timers { get; set; } = null!;

    // A restarted stage would come back without its sink and with a stale write acknowledgement in flight.
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    protected override void PreStart()
    {
        _idle = new IdleClock(_context.Settings.Session.IdleTimeout, Timers, _activity);
        switch (_link)
        {
            case Accepted accepted:
                _connection = $"from {SideResources.For(Context.System).Addresses.Show(accepted.Remote)}";
                StartFraming(accepted.Connection, HandshakeRole.Listener, accepted.Remote);
                break;
            case Dial dial:
                TcpDial.Start(Context, Timers, dial.Remote, _context.Settings.Tcp);
                break;
        }
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case FramingStage.Activated:
                Activate();
                break;
            case FramingStage.Ready:
                // An accepted connection that has passed its handshake no longer counts against its address.
                if (_link is Accepted) Context.Parent.Tell(FramingStage.Ready.Instance);
                break;
            case Udp.Bound { LocalAddress: null }:
                // Akka.IO 1.5.74 follows a failed bind's CommandFailed with a Bound for no address.
                break;
            case Udp.Bound:
                _binding = false;
                _socketActor = Sender;
                Context.Watch(_socketActor);
                if (_ending) _socketActor.Tell(Udp.Unbind.Instance);
                else _framing?.Tell(new FramingStage.SinkReady(_socket.SinkTo(_target, peer: false)));
                break;
            case Udp.CommandFailed { Cmd: Udp.Bind } failed:
                _binding = false;
                if (_ending)
                {
                    StopWhenDone();
                    break;
                }
                _log.Warning("Cannot bind the forward socket to {0}: a fixed forward-bind port serves one session at a time",
                    ((Udp.Bind)failed.Cmd).LocalAddress);
                End(SessionEndReason.BindFailed, "forward socket bind failed");
                break;
            case Tcp.Connected connected:
                TcpDial.Answered(Timers);
                _connection = $"{AddressDisplay.Plain(connected.LocalAddress)} to {AddressDisplay.Plain(connected.RemoteAddress)}";
                StartFraming(Sender, HandshakeRole.Dialer, connected.RemoteAddress);
                Context.Parent.Tell(LinkUp.Instance);
                break;
            case Tcp.CommandFailed { Cmd: Tcp.Connect } failed:
                TcpDial.Answered(Timers);
                DialFailed($"Cannot connect to {((Dial)_link).Remote}: {TcpDial.Reason(failed)}");
                End(SessionEndReason.ConnectionLost, "connect failed");
                break;
            case TcpDial.Unanswered:
                DialFailed($"Connecting to {((Dial)_link).Remote} got no answer");
                End(SessionEndReason.ConnectionLost, "connect failed");
                break;
            case FramingStage.ConnectionLost:
                _connectionDone = true;
                End(SessionEndReason.ConnectionLost, "tunnel connection closed");
                StopWhenDone();
                break;
            case Terminated t when t.ActorRef.Equals(_framing):
                _framing = null;
                _connectionDone = true;
                End(SessionEndReason.ConnectionLost, "tunnel connection closed");
                StopWhenDone();
                break;
            case IdleClock.Check:
                if (_idle.Expired()) End(SessionEndReason.Idle, _idle.Reason);
                break;
            case AnswerCheck:
                if (!_activity.IntoTunnel)
                    End(SessionEndReason.Unanswered, $"the target never answered in {_context.Settings.Session.UnansweredTimeout.TotalSeconds:0.#} s");
                break;
            case Shutdown:
                End(SessionEndReason.Shutdown, "shutdown");
                break;
            case Udp.Unbound:
                if (_socketActor is not null) Context.Unwatch(_socketActor);
                _socketActor = null;
                StopWhenDone();
                break;
            case Terminated t when t.ActorRef.Equals(_socketActor):
                // The forward socket's actor died: nothing reads the target's replies any more, and Akka.IO leaves
                // the socket open. Close it and end; the far side's session gets a new connection and with it a new socket.
                _socketActor = null;
                _socket.CloseOrphaned();
                End(SessionEndReason.ConnectionLost, "forward socket lost");
                StopWhenDone();
                break;
            case EndTimeout:
                Context.Stop(Self);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void StartFraming(IActorRef connection, HandshakeRole end, EndPoint remote)
    {
        _framing = Context.ActorOf(FramingStage.Props(connection, _context.Codec, _context.Settings, end, remote,
            new FramingStage.Attach(Self, _counters, _activity, Sink: null)), "tcp");
        Context.Watch(_framing);
        _connectionDone = false;
    }

    private void Activate()
    {
        if (_active || _ending) return;
        _active = true;
        SideResources.For(Context.System).Sessions.CountStarted();
        Log(SideResources.For(Context.System).SessionStarts, $"Session started for tunnel connection {_connection}, forwarding to {_target}");
        Context.Parent.Tell(Activated.Instance);
        _idle.Start();
        var unanswered = _context.Settings.Session.UnansweredTimeout;
        if (unanswered > TimeSpan.Zero) Timers.StartSingleTimer(AnswerCheck.Instance, AnswerCheck.Instance, unanswered);

        _binding = true;
        var local = _context.Settings.Udp.ForwardBind ?? new IPEndPoint(
            _target.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        Context.System.Udp().Tell(new Udp.Bind(_framing!, local, [_socket]), Self);
    }

    /// <summary>A pool redials with backoff while its target is down: a warning per target per minute is enough.</summary>
    private void DialFailed(string line) => SideResources.For(Context.System).DialFailures.Log(_log, ((Dial)_link).Remote, line);

    /// <summary>
    /// At most one line a minute per address: accepted connections come from anyone, and the dialed ones of a
    /// relay host follow the NAT box's new peers, which anyone who can send it a datagram makes.
    /// </summary>
    private void Log(ThrottledLog throttled, string line) =>
        throttled.Log(_log, _link is Accepted accepted ? accepted.Remote : ((Dial)_link).Remote, line);

    /// <summary>
    /// Writes what the connection still holds and closes it (FIN), releases the UDP socket (acknowledged
    /// unbind, or when a bind in flight lands), and stops once both are done or after <c>tcp.close-timeout</c>.
    /// The stage, the socket's handler, stops with the session, after the socket.
    /// </summary>
    private void End(SessionEndReason reason, string text)
    {
        if (_ending) return;
        _ending = true;
        _end = (reason, text);
        if (!_connectionDone) _framing?.Tell(FramingStage.Close.Instance);
        _socketActor?.Tell(Udp.Unbind.Instance);
        Timers.StartSingleTimer(EndTimeout.Instance, EndTimeout.Instance, _context.Settings.Tcp.CloseTimeout);
        StopWhenDone();
    }

    private void StopWhenDone()
    {
        if (_ending && _connectionDone && !_binding && _socketActor is null) Context.Stop(Self);
    }

    protected override void PostStop()
    {
        // Only reached without an acknowledged unbind when the session crashed or timed out unbinding.
        _socketActor?.Tell(Udp.Unbind.Instance);
        if (!_active) return;
        SideResources.For(Context.System).Sessions.CountEnded(_end.Reason);
        Log(SideResources.For(Context.System).SessionEnds, $"Session ended for tunnel connection {_connection} ({_end.Text}): {_counters}");
    }
}
