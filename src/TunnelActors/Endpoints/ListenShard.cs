using System.Net;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using TunnelActors.Configuration;
using TunnelActors.Flow;
using TunnelActors.Observability;
using TunnelActors.Transport;

namespace TunnelActors.Endpoints;

/// <summary>
/// One of the UDP-listen endpoint's sockets: all of them share the listen address:port (<c>SO_REUSEPORT</c>), the
/// kernel gives each source address:port always to the same one, and each is read by its own receive thread
/// (<c>tunnel.udp.receive-threads</c>), so the peers' datagrams enter the side on as many cores as there are sockets.
/// A shard hands each datagram straight to its peer's session; what comes from a peer it has no session for goes to
/// the endpoint, which alone decides (the session table and its limits), and answers for each datagram it handled
/// (<see cref="Handled"/>). A peer goes straight to its session only once the endpoint has answered for every one
/// of its datagrams sent there, so a peer's datagrams reach its session in the order they came.
/// </summary>
public sealed class ListenShard : UntypedActor, IWithTimers
{
    // The peer's address stays out of these messages' text: one that reaches a stopped shard is logged as a dead
    // letter, and tunnel.log.redact-addresses must hold there too.

    /// <summary>Endpoint → shard: it has handed on this many of the shard's datagrams from <c>Peer</c>, to <c>Session</c> (null: dropped).</summary>
    public sealed record Handled(EndPoint Peer, IActorRef? Session, int Datagrams)
    {
        public override string ToString() => $"{nameof(Handled)} {{ Datagrams = {Datagrams} }}";
    }

    /// <summary>Endpoint → shard: the session is ending; the peer's next datagram goes to the endpoint.</summary>
    public sealed record Unroute(EndPoint Peer, IActorRef Session)
    {
        public override string ToString() => nameof(Unroute);
    }

    /// <summary>Shard → endpoint: bind attempts ran out (<c>tunnel.rebind.max-retries</c>).</summary>
    public sealed record GaveUp(string Reason);

    /// <summary>Peers with datagrams at the endpoint that it has not answered for, at most: beyond, a new peer's datagrams are dropped.</summary>
    internal const int MaxInTransit = 4096;

    /// <summary>A datagram the endpoint has not answered for in this long was dropped by its inbox (full).</summary>
    private static readonly TimeSpan TransitTimeout = TimeSpan.FromSeconds(1);

    private sealed class Sweep { public static readonly Sweep Instance = new(); }

    private sealed class Transit
    {
        public int Datagrams;
        public IActorRef? Session;
        public long Since;
    }

    private readonly ListenAddress _address;
    private readonly IActorRef _endpoint;
    private readonly ListenSocket _listen;
    private readonly SideResources _side = SideResources.For(Context.System);
    private readonly Dictionary<EndPoint, IActorRef> _routes = new();
    private readonly Dictionary<EndPoint, Transit> _transit = new();
    private bool _shuttingDown;

    /// <param name="address">Where to bind: the configured address until one of the shards has bound, then exactly its port.</param>
    /// <param name="socket">Captures the bound socket; the endpoint gives it to the sessions of the peers that come in on it, to reply on.</param>
    /// <param name="udp">Who binds the socket: the side's <see cref="DatagramManager"/> or Akka.IO's UDP.</param>
    public ListenShard(TunnelSettings settings, ListenAddress address, SocketCapture socket, IActorRef udp)
    {
        _address = address;
        _endpoint = Context.Parent;
        var log = Context.GetLogger();
        _listen = new ListenSocket(UdpListenEndpoint.Name, settings.Rebind, this, log,
            () => udp.Tell(new Udp.Bind(Self, _address.Current, [socket])), Udp.Unbind.Instance, socket.CloseOrphaned);
    }

    public static Props Props(TunnelSettings settings, ListenAddress address, SocketCapture socket, IActorRef udp) =>
        Akka.Actor.Props.Create(() => new ListenShard(settings, address, socket, udp)).WithMailbox(TunnelSettings.IngressMailbox);

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart() => _listen.Bind();

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Udp.Received received:
                Route(received);
                break;
            case Handled handled:
                Answered(handled);
                break;
            case Unroute unroute:
                if (_routes.TryGetValue(unroute.Peer, out var session) && session.Equals(unroute.Session)) _routes.Remove(unroute.Peer);
                break;
            case Sweep:
                SweepTransit();
                break;
            case Udp.Bound bound:
                _listen.Bound(Context, Sender, bound.LocalAddress);
                break;
            case Udp.CommandFailed { Cmd: Udp.Bind }:
                if (!_listen.Failed(Context, BindFailure.Describe("cannot bind UDP", _address.Current)))
                {
                    _endpoint.Tell(new GaveUp($"cannot bind UDP {_address.Current}"));
                    Context.Stop(Self);
                }
                break;
            case ListenSocket.Rebind:
                _listen.Bind();
                break;
            case Udp.Unbound:
                _listen.Unbound(Context);
                if (_listen.Released) Context.Stop(Self);
                break;
            case Terminated t when _listen.Owns(t.ActorRef):
                _listen.Died(Context);
                if (_listen.Released) Context.Stop(Self);
                break;
            case Shutdown:
                // The sessions are ending: what still arrives until the socket is gone is not delivered, and counted so.
                _shuttingDown = true;
                _routes.Clear();
                _transit.Clear();
                _listen.Release();
                if (_listen.Released) Context.Stop(Self);
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
        var peer = received.Sender;
        if (_routes.TryGetValue(peer, out var session))
        {
            session.Tell(received);
            return;
        }
        if (!_transit.TryGetValue(peer, out var transit))
        {
            if (_transit.Count >= MaxInTransit)
            {
                _side.Counters.CountDrop(DropReason.QueueFull);
                return;
            }
            _transit[peer] = transit = new Transit();
            // Only while something is in transit: an idle side wakes for nothing.
            if (!Timers.IsTimerActive(Sweep.Instance)) Timers.StartPeriodicTimer(Sweep.Instance, Sweep.Instance, TransitTimeout);
        }
        transit.Datagrams++;
        transit.Since = Environment.TickCount64;
        _endpoint.Tell(received);
    }

    private void Answered(Handled handled)
    {
        if (!_transit.TryGetValue(handled.Peer, out var transit))
        {
            // Nothing of this peer in transit (it timed out): its next datagram asks again.
            return;
        }
        transit.Datagrams -= handled.Datagrams;
        transit.Session = handled.Session;
        if (transit.Datagrams > 0) return;
        _transit.Remove(handled.Peer);
        if (transit.Session is { } session) _routes[handled.Peer] = session;
    }

    /// <summary>Datagrams the endpoint's full inbox dropped are never answered for: their peers go through the endpoint again.</summary>
    private void SweepTransit()
    {
        var before = Environment.TickCount64 - (long)TransitTimeout.TotalMilliseconds;
        List<EndPoint>? stale = null;
        foreach (var (peer, transit) in _transit)
            if (transit.Since < before) (stale ??= []).Add(peer);
        foreach (var peer in stale ?? []) _transit.Remove(peer);
        if (_transit.Count == 0) Timers.Cancel(Sweep.Instance);
    }

    protected override void PostStop() => _listen.UnbindOnStop();
}

/// <summary>
/// Where the UDP-listen endpoint's shards bind: the configured address:port until the first has bound, then the port
/// it got, so that with port 0 they all share one, and a shard bound again takes the same.
/// </summary>
public sealed class ListenAddress(IPEndPoint configured)
{
    private volatile IPEndPoint? _bound;

    public IPEndPoint Current => _bound ?? configured;

    public void Bound(IPEndPoint local) => _bound ??= new IPEndPoint(configured.Address, local.Port);
}
