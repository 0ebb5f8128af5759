using System.Net;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using TunnelActors.Auth;
using TunnelActors.Configuration;
using TunnelActors.Flow;
using TunnelActors.Links;
using TunnelActors.Observability;
using TunnelActors.Sessions;
using TunnelActors.Transport;

namespace TunnelActors.Endpoints;

/// <summary>
/// The TCP-listen socket. On the UDP-forward side every accepted connection becomes a
/// <see cref="ForwardSession"/>. On the UDP-listen side (the seed's NAT box, which cannot dial) accepted
/// connections wait idle in a pool, each with its <see cref="FramingStage"/>, and every new peer's session
/// leases one; a session that finds the pool empty waits for the next connection.
/// </summary>
public sealed class TcpListenEndpoint : UntypedActor, IWithTimers
{
    public const string Name = "tcp";

    /// <summary>Session → pool: give me an idle connection, now or when one arrives, attached like this.</summary>
    public sealed record Lease(FramingStage.Attach Attach);

    /// <summary>Pool → session: this connection is yours; it is already attached to you.</summary>
    public sealed record Leased(IActorRef Framing);

    private readonly TunnelContext _context;
    private readonly bool _forwardSide;
    private readonly LinkedList<IActorRef> _idle = new();
    private readonly HashSet<IActorRef> _handshaking = new();
    private readonly HashSet<IActorRef> _connections = new();
    // Connections that count against their source address: until their handshake passes on a keyed side.
    private readonly Dictionary<IActorRef, EndPoint> _unproven = new();
    private readonly AdmissionLimits _admission;
    private readonly bool _keyed;
    private readonly LinkedList<Lease> _waiting = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();

    private readonly ListenSocket _listen;
    private bool _shuttingDown;

    public TcpListenEndpoint(TunnelContext context)
    {
        _context = context;
        _forwardSide = context.Settings.Udp.Role == UdpRole.Forward;
        var tcp = context.Settings.Tcp;
        // On a keyed side only connections in their handshake count against their address (see Proven).
        _keyed = context.Settings.Auth.Key is not null;
        _admission = new AdmissionLimits(
            _keyed ? Math.Min(tcp.MaxConnectionsPerSource, tcp.MaxHandshakesPerSource) : tcp.MaxConnectionsPerSource,
            tcp.NewConnectionsPerSecond);
        _listen = new ListenSocket(Name, context.Settings.Rebind, this, _log,
            () => Context.System.Tcp().Tell(BindCommand(Self, tcp)),
            Tcp.Unbind.Instance);
    }

    /// <summary>
    /// Listens in pull mode, which Akka.IO passes on to every accepted connection: a connection reads only
    /// when its stage asks, so a side that cannot pass datagrams on slows the far side down through TCP.
    /// </summary>
    public static Tcp.Bind BindCommand(IActorRef handler, TcpTunnelSettings tcp) =>
        new(handler, tcp.Endpoint, tcp.ListenBacklog, TcpTuning.For(tcp), pullMode: true);

    public static Props Props(TunnelContext context) => Akka.Actor.Props.Create(() => new TcpListenEndpoint(context));

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
            case Lease lease:
                OnLease(lease);
                break;
            case FramingStage.Ready:
                OnReady(Sender);
                break;
            case ForwardSession.Activated:
                // Only a dialing pool replaces activated connections; an accepted one needs nothing.
                break;
            case Tcp.Bound bound:
                if (_listen.Bound(Context, Sender, bound.LocalAddress)) _log.Info("Listening for tunnel connections on {0}", bound.LocalAddress);
                break;
            case Tcp.CommandFailed { Cmd: Tcp.Bind }:
                if (!_listen.Failed(Context, BindFailure.Describe("cannot listen on TCP", _context.Settings.Tcp.Endpoint)))
                    Context.Stop(Self);
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
                if (_idle.Remove(t.ActorRef)) Published();
                _handshaking.Remove(t.ActorRef);
                _connections.Remove(t.ActorRef);
                if (_unproven.Remove(t.ActorRef, out var source)) _admission.Release(source);
                RemoveWaiting(t.ActorRef);
                if (_shuttingDown) StopWhenDone();
                break;
            case Shutdown:
                _shuttingDown = true;
                // Forward sessions and leased connections end with their sessions (writing what they hold
                // first); only idle pooled connections are stopped here.
                foreach (var child in _forwardSide ? Context.GetChildren() : [])
                    child.Tell(Shutdown.Instance);
                foreach (var idle in _idle.Concat(_handshaking)) Context.Stop(idle);
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
        if (_shuttingDown || _connections.Count >= _context.Settings.Tcp.MaxConnections)
        {
            Refuse(connection, remote, Refusal.SideLimit, _shuttingDown ? "shutting down" : "tcp.max-connections reached");
            return;
        }

        if (!_context.Settings.Tcp.Allow.Allows(remote))
        {
            Refuse(connection, remote, Refusal.NotAllowed, "not on tcp.allow");
            return;
        }
        switch (_admission.TryAdmit(remote))
        {
            case AdmissionLimits.Verdict.SourceFull:
                Refuse(connection, remote, Refusal.SourceLimit, _keyed
                    ? "tcp.max-handshakes-per-source (or tcp.max-connections-per-source) from that address in their handshake already"
                    : "tcp.max-connections-per-source from that address already");
                return;
            case AdmissionLimits.Verdict.TooFast:
                Refuse(connection, remote, Refusal.RateLimit, "new connections faster than tcp.new-connections-per-second");
                return;
        }

        IActorRef child;
        if (_forwardSide)
        {
            child = Context.ActorOf(ForwardSession.Props(_context, new ForwardSession.Accepted(connection, remote)));
        }
        else
        {
            // A pooled connection joins the pool once its handshake, if any, has passed (FramingStage.Ready).
            child = Context.ActorOf(FramingStage.Props(connection, _context.Codec, _context.Settings, HandshakeRole.Listener, remote));
            _handshaking.Add(child);
        }
        Context.Watch(child);
        _connections.Add(child);
        _unproven[child] = remote;
    }

    /// <summary>A connection passed its handshake: on a keyed side it no longer counts against its address.</summary>
    private void Proven(IActorRef child)
    {
        if (_keyed && _unproven.Remove(child, out var source)) _admission.Release(source);
    }

    private void Refuse(IActorRef connection, EndPoint remote, Refusal reason, string why)
    {
        var side = SideResources.For(Context.System);
        side.Links.CountRefused(reason);
        side.Refusals.Log(_log, remote, $"Tunnel connection from {side.Addresses.Show(remote)} refused: {why}");
        connection.Tell(Tcp.Abort.Instance);
    }

    private void OnReady(IActorRef framing)
    {
        Proven(framing);
        if (!_handshaking.Remove(framing)) return;
        if (_shuttingDown)
        {
            Context.Stop(framing);
        }
        else if (_waiting.First is { } waiting)
        {
            _waiting.RemoveFirst();
            Context.Unwatch(waiting.Value.Attach.Owner);
            Hand(framing, waiting.Value);
        }
        else
        {
            _idle.AddLast(framing);
            Published();
        }
    }

    private void OnLease(Lease lease)
    {
        // A session asks again when its lease went unanswered: it waits once, in its first place.
        for (var node = _waiting.First; node is not null; node = node.Next)
            if (node.Value.Attach.Owner.Equals(lease.Attach.Owner)) return;
        if (_idle.First is { } idle)
        {
            _idle.RemoveFirst();
            Hand(idle.Value, lease);
            Published();
        }
        else
        {
            Context.Watch(lease.Attach.Owner);
            _waiting.AddLast(lease);
        }
    }

    private void Published() => SideResources.For(Context.System).Links.Pooled = _idle.Count;

    private static void Hand(IActorRef framing, Lease lease)
    {
        framing.Tell(lease.Attach);
        lease.Attach.Owner.Tell(new Leased(framing));
    }

    private void RemoveWaiting(IActorRef session)
    {
        for (var node = _waiting.First; node is not null; node = node.Next)
        {
            if (!node.Value.Attach.Owner.Equals(session)) continue;
            _waiting.Remove(node);
            return;
        }
    }

    private void StopWhenDone()
    {
        if (_listen.Released && !Context.GetChildren().Any()) Context.Stop(Self);
    }

    protected override void PostStop() => _listen.UnbindOnStop();
}
