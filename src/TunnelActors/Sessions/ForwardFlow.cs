using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using TunnelActors.Auth;
using TunnelActors.Configuration;
using TunnelActors.Flow;
using TunnelActors.Links;
using TunnelActors.Observability;
using TunnelActors.Transport;

namespace TunnelActors.Sessions;

/// <summary>
/// One flow on the UDP-forward side: a UDP socket of its own towards the fixed target (so the target's replies
/// go back on the connection their request came from) and the tunnel connection that carries it. The socket's
/// datagrams come here and go on to the connection; the connection sends the far side's straight out of the
/// socket. With a key, a flow whose connection is lost keeps its socket for <c>session.reconnect-grace</c>,
/// holding the target's replies, and goes on with the connection that names it (<see cref="Resume"/>): the target
/// sees one source throughout. Without one, it ends with its connection. It also ends after
/// <c>session.idle-timeout</c> without a datagram, or when the target never answered in
/// <c>session.unanswered-timeout</c>; it releases its socket whatever way it stops.
/// </summary>
public sealed class ForwardFlow : UntypedActor, IWithTimers
{
    /// <summary>Flow table → flow: this connection names the flow; carry it on that one from now on.</summary>
    public sealed record Resume(IActorRef Link);

    private sealed class GraceOver { public static readonly GraceOver Instance = new(); }

    private sealed class EndTimeout { public static readonly EndTimeout Instance = new(); }

    private sealed class AnswerCheck { public static readonly AnswerCheck Instance = new(); }

    private readonly TunnelSettings _settings;
    private readonly IPEndPoint _target;
    private readonly FlowId? _id;
    private readonly UdpSocket _socket;
    private readonly TrafficCounters _counters;
    private readonly ActivityStamp _activity = new();
    private readonly DatagramQueue _held;
    private readonly SideResources _side = SideResources.For(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _origin;

    private IActorRef? _link;
    private IdleClock _idle = null!;
    private (SessionEndReason Reason, string Text) _end = (SessionEndReason.Stopped, "stopped");

    public ForwardFlow(TunnelSettings settings, IActorRef udp, IActorRef link, FlowId? id, string origin)
    {
        _settings = settings;
        _target = settings.Udp.Endpoint;
        _id = id;
        _link = link;
        _origin = origin;
        _socket = new UdpSocket(settings.Udp, udp);
        _counters = new TrafficCounters(_side.Counters);
        _held = new DatagramQueue(settings.Session.QueueLimit, settings.Session.QueueMaxDelay, _side.Budget);
    }

    public static Props Props(TunnelSettings settings, IActorRef udp, IActorRef link, FlowId? id, string origin) =>
        Akka.Actor.Props.Create(() => new ForwardFlow(settings, udp, link, id, origin)).WithMailbox(TunnelSettings.ConnectionMailbox);

    public ITimerScheduler Timers { get; set; } = null!;

    private TimeSpan Grace => _id is null ? TimeSpan.Zero : _settings.Session.ReconnectGrace;

    protected override void PreStart()
    {
        _side.Sessions.CountStarted();
        _side.SessionStarts.Log(_log, LogSource, $"Session started for tunnel connection {_origin}{FlowText}, forwarding to {_target}");
        _idle = new IdleClock(_settings.Session.IdleTimeout, Timers, _activity);
        _idle.Start();
        var unanswered = _settings.Session.UnansweredTimeout;
        if (unanswered > TimeSpan.Zero) Timers.StartSingleTimer(AnswerCheck.Instance, AnswerCheck.Instance, unanswered);
        Take(_link!);
        var local = _settings.Udp.ForwardBind ?? new IPEndPoint(
            _target.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        _socket.Bind(Context, local);
        Become(Binding);
    }

    private string FlowText => _id is { } id ? $" (flow {id})" : "";

    private EndPoint LogSource => _settings.Tcp.Role == TcpRole.Connect ? _settings.Tcp.DialTarget : _target;

    protected override void OnReceive(object message) => Unhandled(message);

    /// <summary>Binding the socket towards the target; the connection holds what the far side sent meanwhile.</summary>
    private void Binding(object message)
    {
        switch (_socket.Interpret(Context, message, Sender))
        {
            case UdpSocket.Event.Bound:
                if (_link is null) AwaitResume();
                else Carry();
                return;
            case UdpSocket.Event.BindFailed:
                _log.Warning("Cannot bind the forward socket to {0}: a fixed forward-bind port serves one session at a time", _settings.Udp.ForwardBind);
                End(SessionEndReason.BindFailed, "forward socket bind failed");
                return;
        }
        switch (message)
        {
            case Terminated t when t.ActorRef.Equals(_link):
                _link = null;
                if (Grace <= TimeSpan.Zero) End(SessionEndReason.ConnectionLost, "tunnel connection closed");
                break;
            case Resume resume:
                Replace(resume.Link);
                break;
            default:
                Always(message);
                break;
        }
    }

    /// <summary>Relaying: the target's datagrams go to the connection, the far side's out of the socket.</summary>
    private void Active(object message)
    {
        switch (message)
        {
            case Udp.Received received when received.Sender.Equals(_target):
                _link!.Tell(received);
                break;
            case Udp.Received:
                _counters.CountDrop(DropReason.ForeignSource);
                break;
            case Terminated t when t.ActorRef.Equals(_link):
                _link = null;
                if (Grace <= TimeSpan.Zero) End(SessionEndReason.ConnectionLost, "tunnel connection closed");
                else AwaitResume();
                break;
            case Link.Ended when Sender.Equals(_link):
                // Before its Terminated, which waits behind whatever the connection still had queued for it.
                Context.Unwatch(_link);
                _link = null;
                if (Grace <= TimeSpan.Zero) End(SessionEndReason.ConnectionLost, "tunnel connection closed");
                else AwaitResume();
                break;
            case Resume resume:
                Replace(resume.Link);
                Carry();
                break;
            default:
                Always(message);
                break;
        }
    }

    /// <summary>Keyed, the connection lost: the socket stays, the target's replies wait, until a connection names the flow again.</summary>
    private void AwaitingResume(object message)
    {
        switch (message)
        {
            case Udp.Received received when received.Sender.Equals(_target):
                if (_held.TryEnqueue(received) is { } refused) _counters.CountDrop(refused);
                break;
            case Udp.Received:
                _counters.CountDrop(DropReason.ForeignSource);
                break;
            case Resume resume:
                Timers.Cancel(GraceOver.Instance);
                Take(resume.Link);
                _side.Sessions.CountReconnected();
                _log.Debug("Flow {0} resumed on a new tunnel connection", _id);
                Carry();
                break;
            case GraceOver:
                End(SessionEndReason.ConnectionLost, $"no tunnel connection resumed it within {Grace.TotalSeconds:0.#} s");
                break;
            default:
                Always(message);
                break;
        }
    }

    /// <summary>Closing the connection (what it holds is written first) and releasing the socket.</summary>
    private void Ending(object message)
    {
        switch (_socket.Interpret(Context, message, Sender))
        {
            case UdpSocket.Event.Bound:
                _socket.Unbind();
                return;
            case UdpSocket.Event.None:
                break;
            default:
                StopWhenDone();
                return;
        }
        switch (message)
        {
            case Terminated t when t.ActorRef.Equals(_link):
                _link = null;
                StopWhenDone();
                break;
            case Resume resume:
                resume.Link.Tell(new Link.Close("its flow has ended"));
                break;
            case Udp.Received:
                _counters.CountDrop(DropReason.Undelivered);
                break;
            case EndTimeout:
                Context.Stop(Self);
                break;
        }
    }

    private void Always(object message)
    {
        if (_socket.Interpret(Context, message, Sender) == UdpSocket.Event.Died)
        {
            // Nothing reads the target's replies any more; the far side's next connection starts a new flow.
            End(SessionEndReason.ConnectionLost, "forward socket lost");
            return;
        }
        switch (message)
        {
            case IdleClock.Check:
                if (_idle.Expired()) End(SessionEndReason.Idle, _idle.Reason);
                break;
            case AnswerCheck:
                if (!_activity.IntoTunnel)
                    End(SessionEndReason.Unanswered, $"the target never answered in {_settings.Session.UnansweredTimeout.TotalSeconds:0.#} s");
                break;
            case Shutdown:
                End(SessionEndReason.Shutdown, "shutdown");
                break;
            case Link.Admitted:
            case Link.Ended:
            case Terminated:
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void Take(IActorRef link)
    {
        _link = Context.Watch(link);
        link.Tell(new Link.Attach(Self));
    }

    /// <summary>A newer connection names the flow while the last one is still open: the newer one wins.</summary>
    private void Replace(IActorRef link)
    {
        if (_link is { } old)
        {
            Context.Unwatch(old);
            old.Tell(new Link.Close("its flow moved to a newer connection"));
        }
        Take(link);
    }

    /// <summary>Gives the connection the way out to the target and sends it what waited.</summary>
    private void Carry()
    {
        _link!.Tell(new Link.Attach(Self, new Link.Binding(_socket.SinkTo(_target, peer: false), _counters, _activity)));
        var stale = _held.Drain(received => _link.Tell(received));
        _counters.CountDrops(DropReason.QueueDelay, stale);
        Become(Active);
    }

    private void AwaitResume()
    {
        _log.Debug("Flow {0}: tunnel connection lost; keeping its socket {1:0.#} s for another", _id, Grace.TotalSeconds);
        Timers.StartSingleTimer(GraceOver.Instance, GraceOver.Instance, Grace);
        Become(AwaitingResume);
    }

    /// <summary>
    /// Closes the connection (it writes what it holds, then FIN), releases the socket (acknowledged unbind, or when
    /// a bind in flight lands) and stops once both are done, or after <c>tcp.close-timeout</c>.
    /// </summary>
    private void End(SessionEndReason reason, string text)
    {
        _end = (reason, text);
        Timers.CancelAll();
        _counters.CountDrops(DropReason.Undelivered, _held.Discard());
        _link?.Tell(new Link.Close($"its session ended: {text}"));
        _socket.Unbind();
        Timers.StartSingleTimer(EndTimeout.Instance, EndTimeout.Instance, _settings.Tcp.CloseTimeout);
        Become(Ending);
        StopWhenDone();
    }

    private void StopWhenDone()
    {
        if (_link is null && !_socket.Held) Context.Stop(Self);
    }

    protected override void PostStop()
    {
        // Whichever way it stops (a crash, a restart above it, a bind still in flight), its socket goes with it.
        _socket.Release();
        _counters.CountDrops(DropReason.Undelivered, _held.Discard());
        _side.Sessions.CountEnded(_end.Reason);
        _side.SessionEnds.Log(_log, LogSource, $"Session ended for tunnel connection {_origin}{FlowText} ({_end.Text}): {_counters}");
    }
}
