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
/// The UDP-listen endpoint. Accepts datagrams from any source and hands each to the <see cref="UdpSession"/> of its
/// source address:port, starting one for a new peer: within <c>udp.allow</c>, the per-address and per-second
/// limits, and <c>session.max-sessions</c>, which holds exactly, ending sessions included. When the table is
/// full, a session whose peer was never answered gives its place up to the new peer (<see cref="PeerTable"/>).
/// Its sockets are its <see cref="ListenShard"/>s (one per receive thread, sharing the port), which hand a known
/// peer's datagrams to its session themselves and send here only what the table must decide. Sessions and shards
/// are its children: a failing session is stopped alone, a failing shard is started again on the same port.
/// </summary>
public sealed class UdpListenEndpoint : UntypedActor, IWithTimers
{
    public const string Name = "udp";

    private readonly TunnelSettings _settings;
    private readonly IActorRef _provider;
    private readonly IActorRef _udp;
    private readonly ListenAddress _address;
    private readonly IActorRef?[] _shards;
    private readonly SocketCapture[] _sockets;
    private readonly bool[] _shardBound;
    private readonly PeerTable _peers;
    private readonly Dictionary<EndPoint, (IActorRef Shard, int Datagrams)> _parkedFrom = new();
    private readonly SideResources _side = SideResources.For(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private long _sessionCounter;
    private bool _reportedBound;
    private bool _checkedSharing;
    private bool _shuttingDown;

    /// <param name="provider">Where sessions get their tunnel connections: the dialer or the lease pool.</param>
    /// <param name="udp">Who binds the sockets: the side's <see cref="DatagramManager"/> or Akka.IO's UDP (<c>tunnel.udp.io</c>).</param>
    /// <param name="shards">Sockets sharing the listen port: one per receive thread of the side's own UDP sockets, else one.</param>
    public UdpListenEndpoint(TunnelSettings settings, IActorRef provider, IActorRef udp, int shards)
    {
        _settings = settings;
        _provider = provider;
        _udp = udp;
        _address = new ListenAddress(settings.Udp.Endpoint);
        _shards = new IActorRef?[shards];
        _shardBound = new bool[shards];
        _sockets = Enumerable.Range(0, shards).Select(_ => new SocketCapture(settings.Udp, sharePort: shards > 1)).ToArray();
        _peers = new PeerTable(settings.Session, _side.Budget);
    }

    public static Props Props(TunnelSettings settings, IActorRef provider, IActorRef udp, int shards) =>
        Akka.Actor.Props.Create(() => new UdpListenEndpoint(settings, provider, udp, shards)).WithMailbox(TunnelSettings.IngressMailbox);

    public ITimerScheduler Timers { get; set; } = null!;

    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(e =>
        {
            _log.Error(e, "A session or a socket failed and was stopped; the rest go on");
            return Directive.Stop;
        });

    /// <summary>The first shard alone, so that with port 0 the others learn the port it got.</summary>
    protected override void PreStart() => StartShard(0);

    protected override void PostRestart(Exception reason)
    {
        // The sockets of the incarnation before may still be closing: counted as strangers on the port, they would stop the side.
        _checkedSharing = true;
        base.PostRestart(reason);
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Udp.Received received:
                Route(received, ShardOf(Sender));
                break;
            case UdpSession.Ending ending:
                _peers.Ending(ending.Peer, Sender);
                Unroute(ending.Peer, Sender);
                break;
            case EndpointBound bound when ShardOf(Sender) is { } index:
                ShardBound(index, bound);
                break;
            case EndpointLost lost when ShardOf(Sender) is { } index:
                _shardBound[index] = false;
                if (_reportedBound) Context.Parent.Tell(lost);
                _reportedBound = false;
                break;
            case EndpointBindFailed failed:
                Context.Parent.Tell(failed);
                break;
            case ListenShard.GaveUp:
                Context.Stop(Self);
                break;
            case Terminated t when ShardOf(t.ActorRef) is { } index:
                _shards[index] = null;
                if (_shardBound[index])
                {
                    _shardBound[index] = false;
                    if (_reportedBound) Context.Parent.Tell(new EndpointLost(Name));
                    _reportedBound = false;
                }
                if (_shuttingDown) StopWhenDone();
                else StartShard(index);
                break;
            case Terminated t:
                // A session that failed never said it was ending.
                if (_peers.PeerOf(t.ActorRef) is { } gone) Unroute(gone, t.ActorRef);
                if (_peers.Ended(t.ActorRef) is { } parked)
                {
                    _side.Counters.CountDrops(DropReason.QueueDelay, parked.Stale);
                    _parkedFrom.Remove(parked.Peer, out var from);
                    if (_shuttingDown) _side.Counters.CountDrops(DropReason.Undelivered, parked.Pending.Count);
                    else
                    {
                        var session = Start(parked.Peer, parked.Pending, from.Shard);
                        from.Shard?.Tell(new ListenShard.Handled(parked.Peer, session, from.Datagrams));
                    }
                }
                if (_shuttingDown) StopWhenDone();
                break;
            case Shutdown:
                _shuttingDown = true;
                // The shards first: they stop routing before any session has ended.
                foreach (var shard in _shards) shard?.Tell(Shutdown.Instance);
                foreach (var child in Context.GetChildren().Except(_shards.OfType<IActorRef>())) child.Tell(Shutdown.Instance);
                _side.Counters.CountDrops(DropReason.Undelivered, _peers.DiscardParked());
                StopWhenDone();
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void StartShard(int index)
    {
        var shard = Context.ActorOf(ListenShard.Props(_settings, _address, _sockets[index], _udp), $"socket-{index}");
        _shards[index] = Context.Watch(shard);
    }

    private void Unroute(EndPoint peer, IActorRef session)
    {
        // Shutting down, the shards are stopping: nothing routes any more.
        if (_shuttingDown) return;
        foreach (var shard in _shards) shard?.Tell(new ListenShard.Unroute(peer, session));
    }

    private int? ShardOf(IActorRef actor)
    {
        for (var i = 0; i < _shards.Length; i++)
            if (actor.Equals(_shards[i])) return i;
        return null;
    }

    /// <summary>The endpoint counts as bound once every shard is.</summary>
    private void ShardBound(int index, EndpointBound bound)
    {
        _shardBound[index] = true;
        if (index == 0)
        {
            _address.Bound((IPEndPoint)bound.LocalAddress);
            for (var i = 1; i < _shards.Length; i++)
                if (_shards[i] is null) StartShard(i);
        }
        if (_reportedBound || _shardBound.Any(b => !b)) return;
        if (!_checkedSharing && _shards.Length > 1)
        {
            _checkedSharing = true;
            var local = (IPEndPoint)bound.LocalAddress;
            if (PortSharing.SocketsOn(local) is { } sockets && sockets > _shards.Length)
            {
                var reason = $"cannot bind UDP {local}: {sockets - _shards.Length} other socket(s) share the port (SO_REUSEPORT): " +
                             "is another tunnelactors running on it? (tunnel.udp.receive-threads = 1 binds without sharing)";
                _log.Error("{0}", reason);
                Context.Parent.Tell(new EndpointBindFailed(Name, reason));
                Context.Stop(Self);
                return;
            }
        }
        _reportedBound = true;
        _log.Info("Listening for UDP on {0}", bound.LocalAddress);
        if (_shards.Length > 1) _log.Debug("The UDP port is shared by {0} sockets, one per receive thread", _shards.Length);
        Context.Parent.Tell(new EndpointBound(Name, bound.LocalAddress));
    }

    /// <param name="shard">The shard it came from, which is told that it was handled; null for a datagram a session handed back.</param>
    private void Route(Udp.Received received, int? shard)
    {
        var from = shard is { } index ? _shards[index] : null;
        var peer = (IPEndPoint)received.Sender;
        if (_shuttingDown)
        {
            _side.Counters.CountDrop(DropReason.Undelivered);
            from?.Tell(new ListenShard.Handled(peer, null, 1));
            return;
        }
        switch (_peers.Route(peer, received, _settings.Udp.Allow))
        {
            case PeerTable.Routed routed:
                routed.Session.Tell(received);
                from?.Tell(new ListenShard.Handled(peer, routed.Session, 1));
                break;
            case PeerTable.New:
                from?.Tell(new ListenShard.Handled(peer, Start(peer, [received], from), 1));
                break;
            case PeerTable.Parked when from is not null:
                _parkedFrom[peer] = _parkedFrom.TryGetValue(peer, out var parked) ? (from, parked.Datagrams + 1) : (from, 1);
                break;
            case PeerTable.Refused refused:
                _side.Counters.CountDrop(refused.Reason);
                from?.Tell(new ListenShard.Handled(peer, null, 1));
                break;
        }
    }

    /// <param name="shard">The shard the peer came in on: the session replies on its socket.</param>
    private IActorRef Start(IPEndPoint peer, IEnumerable<Udp.Received> datagrams, IActorRef? shard)
    {
        var socket = _sockets[shard is not null && ShardOf(shard) is { } index ? index : 0];
        var activity = new ActivityStamp();
        var session = Context.Watch(Context.ActorOf(UdpSession.Props(_settings, peer, socket, _provider, activity), $"peer-{++_sessionCounter}"));
        _peers.Started(peer, session, activity);
        foreach (var datagram in datagrams) session.Tell(datagram);
        return session;
    }

    private void StopWhenDone()
    {
        if (!Context.GetChildren().Any()) Context.Stop(Self);
    }

    protected override void PostStop() => _side.Counters.CountDrops(DropReason.Undelivered, _peers.DiscardParked());
}
