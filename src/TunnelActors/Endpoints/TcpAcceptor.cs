using System.Net;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using TunnelActors.Auth;
using TunnelActors.Configuration;
using TunnelActors.Flow;
using TunnelActors.Links;
using TunnelActors.Observability;
using TunnelActors.Transport;

namespace TunnelActors.Endpoints;

/// <summary>
/// The TCP-listen socket. Admits each connection the far side makes (<c>tcp.allow</c>, the side's and each
/// address's connection limits, the rate of new ones) and keeps count of those still proving the key. Each is owned
/// from the start by the one it is for: the lease pool on the UDP-listen side, the flow table on the forward side.
/// The connections are its children.
/// </summary>
public sealed class TcpAcceptor : UntypedActor, IWithTimers
{
    public const string Name = "tcp";

    private readonly TunnelSettings _settings;
    private readonly IActorRef _next;
    private readonly LinkRole _role;
    // Connections that count against their source address: until admitted on a keyed side, for good without a key.
    private readonly Dictionary<IActorRef, EndPoint> _unproven = new();
    private readonly HashSet<IActorRef> _admitting = new();
    private readonly AdmissionLimits _admission;
    private readonly bool _keyed;
    private readonly SideResources _side = SideResources.For(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ListenSocket _listen;
    private bool _shuttingDown;

    /// <param name="next">Who owns each connection: the lease pool, or the flow table.</param>
    /// <param name="carrier">Who listens: Akka.IO's TCP manager, or the TLS carrier.</param>
    public TcpAcceptor(TunnelSettings settings, IActorRef next, IActorRef carrier)
    {
        _settings = settings;
        _next = next;
        var tcp = settings.Tcp;
        var forwardSide = settings.Udp.Role == UdpRole.Forward;
        // A forward side's connection must start a flow within first-frame-timeout; the NAT box's wait, idle, for peers.
        _role = new LinkRole(HandshakeRole.Listener, AwaitsFlow: forwardSide, forwardSide ? tcp.FirstFrameTimeout : TimeSpan.Zero);
        _keyed = settings.Auth.Key is not null;
        _admission = new AdmissionLimits(
            _keyed ? Math.Min(tcp.MaxConnectionsPerSource, tcp.MaxHandshakesPerSource) : tcp.MaxConnectionsPerSource,
            tcp.NewConnectionsPerSecond);
        _listen = new ListenSocket(Name, settings.Rebind, this, _log, () => carrier.Tell(BindCommand(Self, tcp)), Tcp.Unbind.Instance);
    }

    /// <summary>
    /// Listens in pull mode, which Akka.IO passes on to every accepted connection: a connection reads only
    /// when its link asks, so a side that cannot pass datagrams on slows the far side down through TCP.
    /// </summary>
    public static Tcp.Bind BindCommand(IActorRef handler, TcpTunnelSettings tcp) =>
        new(handler, tcp.Endpoint, tcp.ListenBacklog, TcpTuning.For(tcp), pullMode: true);

    public static Props Props(TunnelSettings settings, IActorRef next, IActorRef carrier) =>
        Akka.Actor.Props.Create(() => new TcpAcceptor(settings, next, carrier));

    public ITimerScheduler Timers { get; set; } = null!;

    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(e =>
        {
            _log.Error(e, "A tunnel connection failed and was stopped; others go on");
            return Directive.Stop;
        });

    protected override void PreStart() => _listen.Bind();

    protected override void PostRestart(Exception reason) => _listen.BindAfterRestart();

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Tcp.Connected connected:
                Accept(Sender, connected.RemoteAddress);
                break;
            case Link.Admitted:
                OnAdmitted(Sender);
                break;
            case Link.Ended:
                // Counted by the connection itself; Terminated follows.
                break;
            case Tcp.Bound bound:
                if (_listen.Bound(Context, Sender, bound.LocalAddress)) _log.Info("Listening for tunnel connections on {0}", bound.LocalAddress);
                break;
            case Tcp.CommandFailed { Cmd: Tcp.Bind }:
                if (!_listen.Failed(Context, BindFailure.Describe("cannot listen on TCP", _settings.Tcp.Endpoint))) Context.Stop(Self);
                else if (_shuttingDown) StopWhenDone();
                break;
            case ListenSocket.Rebind:
                _listen.Bind();
                break;
            case Tcp.Unbound:
                _listen.Unbound(Context);
                if (_shuttingDown) StopWhenDone();
                break;
            case Terminated t when _listen.Owns(t.ActorRef):
                _listen.Died(Context);
                if (_shuttingDown) StopWhenDone();
                break;
            case Terminated t:
                _admitting.Remove(t.ActorRef);
                if (_unproven.Remove(t.ActorRef, out var source)) _admission.Release(source);
                if (_shuttingDown) StopWhenDone();
                break;
            case Shutdown:
                _shuttingDown = true;
                // Admitted connections end with their owners, writing what they hold first; only those still
                // proving themselves are this endpoint's to end.
                foreach (var link in _admitting) link.Tell(new Link.Abort("shutting down"));
                _listen.Release();
                StopWhenDone();
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void Accept(IActorRef connection, EndPoint remote)
    {
        if (_shuttingDown || Context.GetChildren().Count() >= _settings.Tcp.MaxConnections)
        {
            Refuse(connection, remote, Refusal.SideLimit, _shuttingDown ? "shutting down" : "tcp.max-connections reached");
            return;
        }
        if (!_settings.Tcp.Allow.Allows(remote))
        {
            Refuse(connection, remote, Refusal.NotAllowed, "not on tcp.allow");
            return;
        }
        switch (_admission.TryAdmit(remote))
        {
            case AdmissionLimits.Verdict.SourceFull:
                Refuse(connection, remote, Refusal.SourceLimit, _keyed
                    ? "too many connections from that address still in their handshake (tcp.max-handshakes-per-source)"
                    : "tcp.max-connections-per-source from that address already");
                return;
            case AdmissionLimits.Verdict.TooFast:
                Refuse(connection, remote, Refusal.RateLimit, "new connections faster than tcp.new-connections-per-second");
                return;
        }
        var link = Context.Watch(Context.ActorOf(FramingStage.Props(connection, _role, _settings, remote, _next)));
        _admitting.Add(link);
        _unproven[link] = remote;
    }

    private void OnAdmitted(IActorRef link)
    {
        if (!_admitting.Remove(link)) return;
        // On a keyed side a connection that proved the key no longer counts against its address.
        if (_keyed && _unproven.Remove(link, out var source)) _admission.Release(source);
    }

    private void Refuse(IActorRef connection, EndPoint remote, Refusal reason, string why)
    {
        _side.Links.CountRefused(reason);
        _side.Refusals.Log(_log, remote, $"Tunnel connection from {_side.Addresses.Show(remote)} refused: {why}");
        connection.Tell(Tcp.Abort.Instance);
    }

    private void StopWhenDone()
    {
        if (_listen.Released && !Context.GetChildren().Any()) Context.Stop(Self);
    }

    protected override void PostStop() => _listen.UnbindOnStop();
}
