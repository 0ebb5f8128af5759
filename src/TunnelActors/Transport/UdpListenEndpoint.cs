using System.Net;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using TunnelActors.Sessions;

namespace TunnelActors.Transport;

/// <summary>
/// The UDP-listen socket. Accepts datagrams from any source and routes each to the <see cref="UdpSession"/>
/// of its source address:port, creating one for a new peer (up to <c>session.max-sessions</c>).
/// Sessions are its children: a failing session is stopped alone.
/// </summary>
public sealed class UdpListenEndpoint : UntypedActor, IWithTimers
{
    public const string Name = "udp";

    private readonly TunnelContext _context;
    private readonly UdpSession.LinkSource _link;
    private readonly SocketCapture _socket;
    private readonly Dictionary<EndPoint, IActorRef> _sessions = new();
    private readonly Dictionary<IActorRef, EndPoint> _peers = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();

    private readonly ListenSocket _listen;
    private long _sessionCounter;
    private bool _shuttingDown;

    public UdpListenEndpoint(TunnelContext context, UdpSession.LinkSource link)
    {
        _context = context;
        _link = link;
        _socket = new SocketCapture(context.Settings.Udp);
        _listen = new ListenSocket(Name, context.Settings.Rebind, this, _log,
            () => Context.System.Udp().Tell(new Udp.Bind(Self, context.Settings.Udp.Endpoint, [_socket])), Udp.Unbind.Instance);
    }

    public static Props Props(TunnelContext context, UdpSession.LinkSource link) =>
        Akka.Actor.Props.Create(() => new UdpListenEndpoint(context, link)).WithMailbox(TunnelSettings.Mailbox);

    public ITimerScheduler Timers { get; set; } = null!;

    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(e =>
        {
            _log.Error(e, "A session failed and was stopped; other sessions go on");
            return Directive.Stop;
        });

    protected override void PreStart() => _listen.Bind();

    protected override void PostRestart(Exception reason) => _listen.BindAfterRestart();

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Udp.Received received:
                Route(received);
                break;
            case Udp.Bound bound:
                if (_listen.Bound(Context, Sender, bound.LocalAddress)) _log.Info("Listening for UDP on {0}", bound.LocalAddress);
                break;
            case Udp.CommandFailed { Cmd: Udp.Bind }:
                if (!_listen.Failed(Context, $"cannot bind UDP {_context.Settings.Udp.Endpoint} (address in use or not available)"))
                    Context.Stop(Self);
                else if (_shuttingDown) StopWhenDone();
                break;
            case ListenSocket.Rebind:
                _listen.Bind();
                break;
            case Udp.Unbound:
                _listen.Unbound();
                if (_shuttingDown) StopWhenDone();
                break;
            case Terminated t:
                if (_peers.Remove(t.ActorRef, out var peer)) _sessions.Remove(peer);
                if (_shuttingDown) StopWhenDone();
                break;
            case Shutdown:
                _shuttingDown = true;
                foreach (var session in _peers.Keys) session.Tell(Shutdown.Instance);
                _listen.Release();
                StopWhenDone();
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void Route(Udp.Received received)
    {
        if (_shuttingDown) return;
        if (!_sessions.TryGetValue(received.Sender, out var session))
        {
            if (_sessions.Count >= _context.Settings.Session.MaxSessions)
            {
                _context.Counters.CountDrop(DropReason.SessionLimit);
                return;
            }
            session = Context.ActorOf(UdpSession.Props(_context, received.Sender, _socket, _link), $"peer-{++_sessionCounter}");
            Context.Watch(session);
            _sessions.Add(received.Sender, session);
            _peers.Add(session, received.Sender);
        }
        session.Forward(received);
    }

    private void StopWhenDone()
    {
        if (_listen.Released && _peers.Count == 0) Context.Stop(Self);
    }

    protected override void PostStop() => _listen.UnbindOnStop();
}
