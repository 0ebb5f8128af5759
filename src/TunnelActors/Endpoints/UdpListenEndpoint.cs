using System.Net;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using TunnelActors.Configuration;
using TunnelActors.Flow;
using TunnelActors.Links;
using TunnelActors.Observability;
using TunnelActors.Sessions;
using TunnelActors.Transport;

namespace TunnelActors.Endpoints;

/// <summary>
/// The UDP-listen socket. Accepts datagrams from any source and routes each by its source address:port:
/// to a new <see cref="UdpSession"/> for a new peer (up to <c>session.max-sessions</c>), into that peer's
/// bounded queue while its tunnel connection is not up, and, once it is, straight to the connection's
/// stage. Sole sender towards a peer's connection, it keeps the peer's datagrams in order across the
/// switch. Sessions are its children: a failing session is stopped alone.
/// </summary>
public sealed class UdpListenEndpoint : UntypedActor, IWithTimers
{
    public const string Name = "udp";

    /// <summary>Where one peer's datagrams go: its queue until the session links a connection, then the stage.</summary>
    private sealed class Route(IActorRef session, DatagramQueue pending)
    {
        public IActorRef Session { get; } = session;
        public DatagramQueue Pending { get; } = pending;
        public IActorRef? Stage { get; set; }

        /// <summary>The session lost its connection and waits for the peer's next datagram before it gets another.</summary>
        public bool SessionAwaitsDatagram { get; set; }
    }

    private readonly TunnelContext _context;
    private readonly UdpSession.LinkSource _link;
    private readonly SocketCapture _socket;
    private readonly ByteBudget _budget;
    private readonly Dictionary<EndPoint, Route> _routes = new();
    private readonly Dictionary<IActorRef, EndPoint> _peers = new();
    private readonly Dictionary<IActorRef, Route> _linked = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();

    private readonly ListenSocket _listen;
    private readonly AdmissionLimits _admission;
    private long _sessionCounter;
    private bool _shuttingDown;

    public UdpListenEndpoint(TunnelContext context, UdpSession.LinkSource link)
    {
        _context = context;
        _link = link;
        _socket = new SocketCapture(context.Settings.Udp);
        _budget = SideResources.For(Context.System).Budget;
        _admission = new AdmissionLimits(context.Settings.Session.MaxPerSource, context.Settings.Session.NewPerSecond);
        _listen = new ListenSocket(Name, context.Settings.Rebind, this, _log,
            () => Context.System.Udp().Tell(new Udp.Bind(Self, context.Settings.Udp.Endpoint, [_socket])), Udp.Unbind.Instance);
    }

    public static Props Props(TunnelContext context, UdpSession.LinkSource link) =>
        Akka.Actor.Props.Create(() => new UdpListenEndpoint(context, link)).WithMailbox(TunnelSettings.IngressMailbox);

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
                RouteDatagram(received);
                break;
            case UdpSession.Linked linked:
                OnLinked(Sender, linked.Stage);
                break;
            case UdpSession.Unlinked:
                OnUnlinked(Sender);
                break;
            case UdpSession.Ending:
                OnEnding(Sender);
                break;
            case Udp.Bound bound:
                if (_listen.Bound(Context, Sender, bound.LocalAddress)) _log.Info("Listening for UDP on {0}", bound.LocalAddress);
                break;
            case Udp.CommandFailed { Cmd: Udp.Bind }:
                if (!_listen.Failed(Context, BindFailure.Describe("cannot bind UDP", _context.Settings.Udp.Endpoint)))
                    Context.Stop(Self);
                else if (_shuttingDown) StopWhenDone();
                break;
            case ListenSocket.Rebind:
                _listen.Bind();
                break;
            case Udp.Unbound:
                _listen.Unbound(Context);
                if (_shuttingDown) StopWhenDone();
                break;
            case Terminated t when _listen.Owns(t.ActorRef):
                _socket.CloseOrphaned();
                _listen.Died(Context);
                if (_shuttingDown) StopWhenDone();
                break;
            case Terminated t when _linked.Remove(t.ActorRef, out var unlinked):
                // The connection is gone before its session: hold the peer's datagrams until the session ends.
                unlinked.Stage = null;
                break;
            case Terminated t:
                OnSessionEnded(t.ActorRef);
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

    private void RouteDatagram(Udp.Received received)
    {
        if (_shuttingDown) return;
        if (_routes.TryGetValue(received.Sender, out var route))
        {
            if (route.Stage is not null) route.Stage.Forward(received);
            else Hold(route, received);
            return;
        }

        if (!_context.Settings.Udp.Allow.Allows(received.Sender))
        {
            _context.Counters.CountDrop(DropReason.NotAllowed);
            return;
        }
        var settings = _context.Settings;
        if (Admit(received.Sender, new DatagramQueue(settings.Session.QueueLimit, settings.Session.QueueMaxDelay, _budget)) is { } admitted)
            Hold(admitted, received);
    }

    /// <summary>A new session for <paramref name="peer"/>, its datagrams held in <paramref name="pending"/>; null (counted) when a limit refuses it.</summary>
    private Route? Admit(EndPoint peer, DatagramQueue pending)
    {
        var refused = _routes.Count >= _context.Settings.Session.MaxSessions ? DropReason.SessionLimit
            : _admission.TryAdmit(peer) switch
            {
                AdmissionLimits.Verdict.SourceFull => DropReason.SourceLimit,
                AdmissionLimits.Verdict.TooFast => DropReason.RateLimit,
                _ => (DropReason?)null,
            };
        if (refused is { } reason)
        {
            _context.Counters.CountDrop(reason);
            return null;
        }
        var session = Context.ActorOf(UdpSession.Props(_context, peer, _socket, _link), $"peer-{++_sessionCounter}");
        Context.Watch(session);
        var route = new Route(session, pending);
        _routes.Add(peer, route);
        _peers.Add(session, peer);
        return route;
    }

    private void Hold(Route route, Udp.Received received)
    {
        if (route.Pending.TryEnqueue(received) is { } refused)
        {
            _context.Counters.CountDrop(refused);
            return;
        }
        if (!route.SessionAwaitsDatagram) return;
        route.SessionAwaitsDatagram = false;
        route.Session.Tell(UdpSession.PeerSent.Instance);
    }

    private void OnLinked(IActorRef session, IActorRef stage)
    {
        if (RouteOf(session) is not { } route) return;
        route.Stage = stage;
        _linked[stage] = route;
        Context.Watch(stage);
        var stale = route.Pending.Drain(datagram => stage.Tell(datagram, Self));
        _context.Counters.CountDrops(DropReason.QueueDelay, stale);
    }

    /// <summary>The session's connection is gone and it is getting another: hold the peer's datagrams meanwhile.</summary>
    private void OnUnlinked(IActorRef session)
    {
        if (RouteOf(session) is not { } route) return;
        route.SessionAwaitsDatagram = true;
        if (route.Stage is not { } stage) return;
        Unroute(route);
        // The last message the old stage gets: whatever was routed to it before is counted there, not dead-lettered.
        stage.Tell(PoisonPill.Instance);
    }

    /// <summary>
    /// The session is ending: its peer's next datagram starts a new session. Its stage gets Close after the
    /// last datagram routed to it, and writes what it holds before its FIN.
    /// </summary>
    private void OnEnding(IActorRef session)
    {
        if (RouteOf(session) is not { } route) return;
        var peer = _peers[session];
        _routes.Remove(peer);
        if (route.Stage is { } stage)
        {
            Unroute(route);
            stage.Tell(FramingStage.Close.Instance, session);
        }
        // What the peer sent as its session ended (its grace ran out as it sent again) starts the next one.
        if (!route.Pending.IsEmpty && !_shuttingDown && Admit(peer, route.Pending) is not null) return;
        _context.Counters.CountDrops(DropReason.Undelivered, route.Pending.Discard());
    }

    private Route? RouteOf(IActorRef session) =>
        _peers.TryGetValue(session, out var peer) && _routes.TryGetValue(peer, out var route) && route.Session.Equals(session) ? route : null;

    private void Unroute(Route route)
    {
        _linked.Remove(route.Stage!);
        Context.Unwatch(route.Stage!);
        route.Stage = null;
    }

    private void OnSessionEnded(IActorRef session)
    {
        if (!_peers.Remove(session, out var peer)) return;
        _admission.Release(peer);
        if (!_routes.TryGetValue(peer, out var route) || !route.Session.Equals(session)) return;
        _routes.Remove(peer);
        if (route.Stage is not null) Unroute(route);
        _context.Counters.CountDrops(DropReason.Undelivered, route.Pending.Discard());
    }

    private void StopWhenDone()
    {
        if (_listen.Released && _peers.Count == 0) Context.Stop(Self);
    }

    protected override void PostStop()
    {
        foreach (var route in _routes.Values) route.Pending.Discard();
        _listen.UnbindOnStop();
    }
}
