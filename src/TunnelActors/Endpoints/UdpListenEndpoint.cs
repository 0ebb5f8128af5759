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
/// The UDP-listen socket. Accepts datagrams from any source and hands each to the <see cref="UdpSession"/> of its
/// source address:port, starting one for a new peer: within <c>udp.allow</c>, the per-address and per-second
/// limits, and <c>session.max-sessions</c>, which holds exactly, ending sessions included. When the table is
/// full, a session whose peer was never answered gives its place up to the new peer (<see cref="PeerTable"/>).
/// Sessions are its children: a failing one is stopped alone.
/// </summary>
public sealed class UdpListenEndpoint : UntypedActor, IWithTimers
{
    public const string Name = "udp";

    private readonly TunnelSettings _settings;
    private readonly IActorRef _provider;
    private readonly SocketCapture _socket;
    private readonly PeerTable _peers;
    private readonly SideResources _side = SideResources.For(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ListenSocket _listen;
    private long _sessionCounter;
    private bool _shuttingDown;

    /// <param name="provider">Where sessions get their tunnel connections: the dialer or the lease pool.</param>
    /// <param name="udp">Who binds the socket: the side's <see cref="DatagramManager"/> or Akka.IO's UDP (<c>tunnel.udp.io</c>).</param>
    public UdpListenEndpoint(TunnelSettings settings, IActorRef provider, IActorRef udp)
    {
        _settings = settings;
        _provider = provider;
        _socket = new SocketCapture(settings.Udp);
        _peers = new PeerTable(settings.Session, _side.Budget);
        _listen = new ListenSocket(Name, settings.Rebind, this, _log,
            () => udp.Tell(new Udp.Bind(Self, settings.Udp.Endpoint, [_socket])), Udp.Unbind.Instance, _socket.CloseOrphaned);
    }

    public static Props Props(TunnelSettings settings, IActorRef provider, IActorRef udp) =>
        Akka.Actor.Props.Create(() => new UdpListenEndpoint(settings, provider, udp)).WithMailbox(TunnelSettings.IngressMailbox);

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
            case UdpSession.Ending ending:
                _peers.Ending(ending.Peer, Sender);
                break;
            case Terminated t when _listen.Owns(t.ActorRef):
                _listen.Died(Context);
                if (_shuttingDown) StopWhenDone();
                break;
            case Terminated t:
                if (_peers.Ended(t.ActorRef) is { } parked)
                {
                    _side.Counters.CountDrops(DropReason.QueueDelay, parked.Stale);
                    if (_shuttingDown) _side.Counters.CountDrops(DropReason.Undelivered, parked.Pending.Count);
                    else Start(parked.Peer, parked.Pending);
                }
                if (_shuttingDown) StopWhenDone();
                break;
            case Udp.Bound bound:
                if (_listen.Bound(Context, Sender, bound.LocalAddress)) _log.Info("Listening for UDP on {0}", bound.LocalAddress);
                break;
            case Udp.CommandFailed { Cmd: Udp.Bind }:
                if (!_listen.Failed(Context, BindFailure.Describe("cannot bind UDP", _settings.Udp.Endpoint))) Context.Stop(Self);
                else if (_shuttingDown) StopWhenDone();
                break;
            case ListenSocket.Rebind:
                _listen.Bind();
                break;
            case Udp.Unbound:
                _listen.Unbound(Context);
                if (_shuttingDown) StopWhenDone();
                break;
            case Shutdown:
                _shuttingDown = true;
                foreach (var session in Context.GetChildren()) session.Tell(Shutdown.Instance);
                _side.Counters.CountDrops(DropReason.Undelivered, _peers.DiscardParked());
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
        if (_shuttingDown)
        {
            _side.Counters.CountDrop(DropReason.Undelivered);
            return;
        }
        var peer = (IPEndPoint)received.Sender;
        switch (_peers.Route(peer, received, _settings.Udp.Allow))
        {
            case PeerTable.Routed routed:
                routed.Session.Tell(received);
                break;
            case PeerTable.New:
                Start(peer, [received]);
                break;
            case PeerTable.Refused refused:
                _side.Counters.CountDrop(refused.Reason);
                break;
        }
    }

    private void Start(IPEndPoint peer, IEnumerable<Udp.Received> datagrams)
    {
        var activity = new ActivityStamp();
        var session = Context.Watch(Context.ActorOf(UdpSession.Props(_settings, peer, _socket, _provider, activity), $"peer-{++_sessionCounter}"));
        _peers.Started(peer, session, activity);
        foreach (var datagram in datagrams) session.Tell(datagram);
    }

    private void StopWhenDone()
    {
        if (_listen.Released && !Context.GetChildren().Any()) Context.Stop(Self);
    }

    protected override void PostStop()
    {
        _side.Counters.CountDrops(DropReason.Undelivered, _peers.DiscardParked());
        _listen.UnbindOnStop();
    }
}
