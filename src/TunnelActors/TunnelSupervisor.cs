using System.Net;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using TunnelActors.Configuration;
using TunnelActors.Endpoints;
using TunnelActors.Flow;
using TunnelActors.Links;
using TunnelActors.Observability;
using TunnelActors.Sessions;
using TunnelActors.Transport;

namespace TunnelActors;

/// <summary>
/// The root of one side of the tunnel. Creates what its two roles need (UDP <c>listen</c> or <c>forward</c> ×
/// TCP <c>listen</c> or <c>connect</c>), restarts a child that fails (its sockets are released and bound again),
/// reports start-up to whoever waits for it, and stops the side when a child gives up for good. Sessions and
/// connections live below, so a failing session never touches a listener or another session.
/// </summary>
public sealed class TunnelSupervisor : UntypedActor
{
    /// <summary>Answered with <see cref="Ready"/> once every endpoint is bound, or <see cref="StartFailed"/>.</summary>
    public sealed class AwaitReady { public static readonly AwaitReady Instance = new(); }

    public sealed record Ready(IReadOnlyDictionary<string, EndPoint> Endpoints);

    public sealed record StartFailed(string Reason);

    /// <summary>Answered with the side-wide <see cref="TrafficCounters"/>.</summary>
    public sealed class GetCounters { public static readonly GetCounters Instance = new(); }

    private readonly TunnelSettings _settings;
    private readonly Dictionary<string, EndPoint> _bound = new();
    private readonly List<IActorRef> _waiters = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly HashSet<string> _expected = new();
    private readonly SideResources _side = SideResources.For(Context.System);
    private string? _startFailure;
    private bool _shuttingDown;
    private TunnelMetrics? _metrics;
    private MetricsServer? _metricsServer;
    private IActorRef? _udpIo;
    private IActorRef? _deadLetters;
    private IActorRef? _tcpIo;

    public TunnelSupervisor(TunnelSettings settings) => _settings = settings;

    public static Props Props(TunnelSettings settings) => Akka.Actor.Props.Create(() => new TunnelSupervisor(settings));

    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(10, TimeSpan.FromMinutes(1), e =>
        {
            _log.Error(e, "Endpoint failed; restarting it");
            return Directive.Restart;
        });

    protected override void PreStart()
    {
        // Akka starts its timer thread on the first schedule and blocks every caller until that thread runs;
        // fifty sessions starting their idle timers at once then hold every thread-pool thread the timer
        // thread needs, and the side stalls for seconds. Start it now, before any session exists.
        Context.System.Scheduler.Advanced.ScheduleOnce(TimeSpan.FromMilliseconds(1), () => { });
        var settings = _settings;
        _side.Budget.Resize(settings.QueueMemory);
        _log.Info("Tunnel side starting: UDP {0} {1}, TCP {2} {3}", settings.Udp.Role.ToString().ToLowerInvariant(),
            settings.Udp.Endpoint, settings.Tcp.Role.ToString().ToLowerInvariant(), settings.Tcp.Endpoint);
        SocketBufferReport.Log(settings, _log);
        foreach (var warning in ExposureWarnings.For(settings)) _log.Warning("{0}", warning);
        _metrics = new TunnelMetrics(new TunnelMetrics.Sources(_side.Counters, _side.Sessions, _side.Links, _side.Endpoints, _side.ReceiveBuffers,
            _side.ReceiveThreads, () => _side.Budget.Used),
            Context.System.Name, settings.Orientation, settings.Carrier);
        ServeMetrics(settings);
        _deadLetters = Start(DeadLetterCount.Props(_side.Counters, _side.Addresses), DeadLetterCount.Name);

        var udp = UdpManager(settings.Udp);
        var tcp = TcpCarrier(settings);
        switch (settings.Udp.Role, settings.Tcp.Role)
        {
            case (UdpRole.Listen, TcpRole.Listen):
                var pool = Start(LeasePool.Props(), LeasePool.Name);
                Expect(TcpAcceptor.Props(settings, pool, tcp), TcpAcceptor.Name);
                Expect(UdpListenEndpoint.Props(settings, pool, udp, ListenShards(settings)), UdpListenEndpoint.Name);
                break;
            case (UdpRole.Listen, TcpRole.Connect):
                var dialer = Start(Dialer.Props(settings, forwardSide: false, tcp), Dialer.Name);
                Expect(UdpListenEndpoint.Props(settings, dialer, udp, ListenShards(settings)), UdpListenEndpoint.Name);
                break;
            case (UdpRole.Forward, TcpRole.Listen):
                var flows = Start(FlowTable.Props(settings, udp), FlowTable.Name);
                Expect(TcpAcceptor.Props(settings, flows, tcp), TcpAcceptor.Name);
                break;
            case (UdpRole.Forward, TcpRole.Connect):
                var table = Start(FlowTable.Props(settings, udp), FlowTable.Name);
                var relayDialer = Start(Dialer.Props(settings, forwardSide: true, tcp), Dialer.Name);
                Expect(TcpDialPool.Props(settings, relayDialer, table), TcpDialPool.Name);
                break;
        }
    }

    /// <summary>The side's own UDP sockets (<c>tunnel.udp.io = batched</c>) where they can be had, or Akka.IO's.</summary>
    private IActorRef UdpManager(UdpTunnelSettings settings)
    {
        if (settings.Io == UdpIo.Batched && DatagramManager.Supported)
            return _udpIo = Start(DatagramManager.Props(settings), DatagramManager.Name);
        if (settings.Io == UdpIo.Batched) _log.Info("tunnel.udp.io = batched needs 64-bit Linux; using Akka.IO's UDP");
        return Context.System.Udp();
    }

    /// <summary>The side's TCP carrier: TLS (<c>tunnel.tls</c>), a WebSocket (<c>ws://</c>, <c>tunnel.websocket</c>), an HTTP proxy (<c>tunnel.http-proxy</c>) or a website behind (<c>tunnel.http-fallback</c>); else Akka.IO's plain TCP.</summary>
    private IActorRef TcpCarrier(TunnelSettings settings) =>
        settings.Tls is not null || settings.HttpProxy is not null || settings.WebSocket is not null || settings.HttpFallback is not null
            ? _tcpIo = Start(Carriers.StreamCarrier.Props(settings.Tls, settings.HttpProxy, settings.WebSocket, settings.HttpFallback,
                    settings.Tcp.ConnectTimeout, settings.Auth.HandshakeTimeout, _side.Links),
                Carriers.StreamCarrier.Name)
            : Context.System.Tcp();

    /// <summary>Sockets the UDP-listen port is shared by: one per receive thread of the side's own sockets; Akka.IO's UDP has one.</summary>
    private int ListenShards(TunnelSettings settings) => _udpIo is null ? 1 : settings.Udp.ReceiveThreads;

    /// <summary>Serves /metrics and /healthz when asked to; a port it cannot take fails the start, like any other.</summary>
    private void ServeMetrics(TunnelSettings settings)
    {
        if (settings.MetricsListen is not { } listen) return;
        try
        {
            _metricsServer = MetricsServer.Start(listen, _side.Endpoints);
            _log.Info("Serving metrics on http://{0}/metrics and health on /healthz", _metricsServer.Endpoint);
        }
        catch (Exception e) when (e is HttpListenerException or System.Net.Sockets.SocketException)
        {
            _startFailure = $"tunnel.metrics.listen: cannot listen on {listen} ({e.Message})";
        }
    }

    /// <summary>An endpoint: a socket this side binds, reported bound before the side is ready.</summary>
    private void Expect(Props props, string name)
    {
        _expected.Add(name);
        _side.Endpoints.Set(name, false);
        Start(props, name);
    }

    private IActorRef Start(Props props, string name) => Context.Watch(Context.ActorOf(props, name));

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case EndpointBound bound:
                _bound[bound.Name] = bound.LocalAddress;
                if (!_shuttingDown) _side.Endpoints.Set(bound.Name, true);
                AnswerWaiters();
                break;
            case EndpointBindFailed failed when _bound.Count < _expected.Count && _startFailure is null:
                _side.Endpoints.Set(failed.Name, false);
                _startFailure = failed.Reason;
                AnswerWaiters();
                break;
            case EndpointBindFailed failed:
                _side.Endpoints.Set(failed.Name, false);
                break;
            case EndpointLost lost:
                _side.Endpoints.Set(lost.Name, false);
                break;
            case EndpointGaveUp gaveUp:
                _side.StopReason = gaveUp.Reason;
                break;
            case AwaitReady:
                _waiters.Add(Sender);
                AnswerWaiters();
                break;
            case GetCounters:
                Sender.Tell(_side.Counters);
                break;
            case Shutdown:
                BeginShutdown();
                break;
            case Terminated when _shuttingDown:
                StopWhenDone();
                break;
            case Terminated t:
                _side.StopReason ??= $"{t.ActorRef.Path.Name} stopped";
                _log.Error("{0} stopped for good; this side of the tunnel stops", t.ActorRef.Path.Name);
                _startFailure ??= _side.StopReason;
                AnswerWaiters();
                BeginShutdown();
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void AnswerWaiters()
    {
        object? answer = _startFailure is not null ? new StartFailed(_startFailure)
            : _bound.Count == _expected.Count ? new Ready(new Dictionary<string, EndPoint>(_bound))
            : null;
        if (answer is null) return;
        foreach (var waiter in _waiters) waiter.Tell(answer);
        _waiters.Clear();
    }

    private void BeginShutdown()
    {
        _shuttingDown = true;
        _side.Endpoints.Down();
        foreach (var child in Context.GetChildren().Where(child => !StopsLast(child))) child.Tell(Shutdown.Instance);
        _deadLetters?.Tell(DeadLetterCount.SideStopping.Instance);
        StopWhenDone();
    }

    /// <summary>
    /// Stops once every child has; the socket managers (UDP, and the TLS carrier) last, after the endpoints, flows and
    /// connections released their sockets, and with them the dead-letter count, which counts datagrams lost until then.
    /// </summary>
    private void StopWhenDone()
    {
        var children = Context.GetChildren().ToList();
        if (children.Count == 0) Context.Stop(Self);
        else if (children.All(StopsLast))
            foreach (var child in children) Context.Stop(child);
    }

    private bool StopsLast(IActorRef child) => child.Equals(_udpIo) || child.Equals(_tcpIo) || child.Equals(_deadLetters);

    protected override void PostStop()
    {
        _side.Endpoints.Down();
        // Closes the listening socket now; what a client still holds open finishes on its own, never on this thread.
        _metricsServer?.Stop();
        _metrics?.Dispose();
        _log.Info("Tunnel side stopped: {0}; {1}", _side.Counters.ToString(), _side.Links.ToString());
    }
}
