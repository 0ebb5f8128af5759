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

namespace TunnelActors.Sessions;

/// <summary>
/// One phantom peer on the UDP-listen side, and the one place its state is kept: the source address:port its
/// datagrams come from (so the way back is a <see cref="UdpSink"/> on the listen socket to exactly that address),
/// and the tunnel connection that carries them. The endpoint hands it the peer's datagrams; it holds them while
/// it gets a connection from its provider (the <see cref="Dialer"/> or the <see cref="LeasePool"/>, one protocol),
/// then passes them on to it. When the connection is lost it keeps the peer for <c>session.reconnect-grace</c>, and
/// the peer's next datagram gets it another; with a key the new connection names the same flow, so the far side
/// goes on from the same socket. It ends when the peer is idle for <c>session.idle-timeout</c>, never answered in
/// <c>session.unanswered-timeout</c>, is evicted for a peer that needs the place, or no connection came back in time.
/// </summary>
public sealed class UdpSession : UntypedActor, IWithTimers
{
    /// <summary>Endpoint → session: the table is full and this peer was never answered: give the place up now.</summary>
    public sealed class Evict
    {
        public static readonly Evict Instance = new();
        private Evict() { }
    }

    /// <summary>Session → endpoint: route nothing more here; datagrams that still arrive are handed back to it.</summary>
    public sealed record Ending(EndPoint Peer);

    private sealed class GraceOver { public static readonly GraceOver Instance = new(); }

    private sealed class CloseTimeout { public static readonly CloseTimeout Instance = new(); }

    private sealed class AnswerCheck { public static readonly AnswerCheck Instance = new(); }

    private readonly TunnelSettings _settings;
    private readonly IPEndPoint _peer;
    private readonly SocketCapture _listenSocket;
    private readonly IActorRef _provider;
    private readonly ActivityStamp _activity;
    private readonly TrafficCounters _counters;
    private readonly DatagramQueue _queue;
    private readonly SideResources _side = SideResources.For(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();

    private IActorRef? _link;
    private IActorRef? _leased;
    private FlowId? _flow;
    private IdleClock _idle = null!;
    private (SessionEndReason Reason, string Text) _end = (SessionEndReason.Stopped, "stopped");

    /// <param name="activity">Shared with the endpoint, which reads whether the peer was ever answered.</param>
    public UdpSession(TunnelSettings settings, IPEndPoint peer, SocketCapture listenSocket, IActorRef provider, ActivityStamp activity)
    {
        _settings = settings;
        _peer = peer;
        _listenSocket = listenSocket;
        _provider = provider;
        _activity = activity;
        _counters = new TrafficCounters(_side.Counters);
        _queue = new DatagramQueue(settings.Session.QueueLimit, settings.Session.QueueMaxDelay, _side.Budget);
    }

    public static Props Props(TunnelSettings settings, IPEndPoint peer, SocketCapture listenSocket, IActorRef provider, ActivityStamp activity) =>
        Akka.Actor.Props.Create(() => new UdpSession(settings, peer, listenSocket, provider, activity)).WithMailbox(TunnelSettings.ConnectionMailbox);

    public ITimerScheduler Timers { get; set; } = null!;

    private TimeSpan Grace => _settings.Session.ReconnectGrace;

    protected override void PreStart()
    {
        _side.Sessions.CountStarted();
        // Thousands of spoofed source ports must not mean thousands of lines: at most one a minute per address.
        _side.SessionStarts.Log(_log, _peer, $"Session started for peer {_side.Addresses.Show(_peer)}");
        _idle = new IdleClock(_settings.Session.IdleTimeout, Timers, _activity);
        _idle.Start();
        var unanswered = _settings.Session.UnansweredTimeout;
        if (unanswered > TimeSpan.Zero) Timers.StartSingleTimer(AnswerCheck.Instance, AnswerCheck.Instance, unanswered);
        Acquire(reconnecting: false);
    }

    protected override void OnReceive(object message) => Unhandled(message);

    private void Acquire(bool reconnecting)
    {
        _provider.Tell(new LinkProvider.Acquire(new Link.Binding(_listenSocket.SinkTo(_peer, peer: true), _counters, _activity, _flow)));
        Become(message => Acquiring(message, reconnecting));
    }

    /// <summary>Waiting for a connection (a dial and its handshake, or a lease): the peer's datagrams wait in the queue.</summary>
    private void Acquiring(object message, bool reconnecting)
    {
        switch (message)
        {
            case Udp.Received received:
                Hold(received);
                break;
            case LinkProvider.Leased leased:
                _leased = Context.Watch(leased.Link);
                break;
            case Terminated t when t.ActorRef.Equals(_leased):
                // The leased connection ended before it was attached: ask again.
                _leased = null;
                Acquire(reconnecting);
                break;
            case Link.Admitted admitted:
                _leased = null;
                _link = Context.Watch(Sender);
                _flow ??= admitted.Flow;
                if (reconnecting)
                {
                    Timers.Cancel(GraceOver.Instance);
                    _side.Sessions.CountReconnected();
                    _log.Debug("Peer {0}: tunnel connection back", _side.Addresses.Show(_peer));
                }
                var stale = _queue.Drain(datagram => _link.Tell(datagram));
                _counters.CountDrops(DropReason.QueueDelay, stale);
                Become(Linked);
                break;
            case GraceOver:
                End(SessionEndReason.ConnectionLost, $"no tunnel connection again within {Grace.TotalSeconds:0.#} s");
                break;
            default:
                Always(message);
                break;
        }
    }

    /// <summary>The connection is up: the peer's datagrams go straight on to it, and its replies come back to the peer.</summary>
    private void Linked(object message)
    {
        switch (message)
        {
            case Udp.Received received:
                _link!.Tell(received);
                break;
            case Terminated t when t.ActorRef.Equals(_link):
                ConnectionLost();
                break;
            case Link.Ended when Sender.Equals(_link):
                // Before its Terminated, which waits behind whatever the connection still had queued for it.
                ConnectionLost();
                break;
            default:
                Always(message);
                break;
        }
    }

    /// <summary>Connection lost, within the grace: the peer's next datagram gets another (only a peer with something to send takes one).</summary>
    private void AwaitingPeer(object message)
    {
        switch (message)
        {
            case Udp.Received received:
                Hold(received);
                Acquire(reconnecting: true);
                break;
            case GraceOver:
                End(SessionEndReason.ConnectionLost, $"tunnel connection closed; nothing to send in the {Grace.TotalSeconds:0.#} s after");
                break;
            default:
                Always(message);
                break;
        }
    }

    /// <summary>
    /// Closing: the connection writes what it holds, then FIN. Datagrams that still come go back to the endpoint
    /// for the next session, unless the peer was evicted.
    /// </summary>
    private void Closing(object message, bool handBack)
    {
        switch (message)
        {
            case Udp.Received received when handBack:
                Context.Parent.Tell(received);
                break;
            case Udp.Received:
                _counters.CountDrop(DropReason.Undelivered);
                break;
            case Link.Admitted:
                Sender.Tell(new Link.Close("its session has ended"));
                break;
            case Terminated t when t.ActorRef.Equals(_link):
            case CloseTimeout:
                Context.Stop(Self);
                break;
        }
    }

    private void Always(object message)
    {
        switch (message)
        {
            case Link.Admitted:
                // A second connection for one request (a far side that dropped one the session still had in view): not needed.
                if (!Sender.Equals(_link)) Sender.Tell(new Link.Close("not needed"));
                break;
            case IdleClock.Check:
                if (_idle.Expired()) End(SessionEndReason.Idle, _idle.Reason);
                break;
            case AnswerCheck:
                if (!_activity.FromTunnel)
                    End(SessionEndReason.Unanswered, $"never answered in {_settings.Session.UnansweredTimeout.TotalSeconds:0.#} s");
                break;
            case Evict:
                End(SessionEndReason.Evicted, "never answered, and the session table is full", abort: true);
                break;
            case Shutdown:
                End(SessionEndReason.Shutdown, "shutdown");
                break;
            case Link.Ended:
            case LinkProvider.Leased:
            case Terminated:
            case GraceOver:
                // A connection or a timer this session has already let go of.
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void Hold(Udp.Received received)
    {
        if (_queue.TryEnqueue(received) is { } refused) _counters.CountDrop(refused);
    }

    private void ConnectionLost()
    {
        Context.Unwatch(_link!);
        _link = null;
        if (Grace <= TimeSpan.Zero)
        {
            End(SessionEndReason.ConnectionLost, "tunnel connection closed");
            return;
        }
        Timers.StartSingleTimer(GraceOver.Instance, GraceOver.Instance, Grace);
        _log.Debug("Peer {0}: tunnel connection lost; keeping the session {1:0.#} s for another", _side.Addresses.Show(_peer), Grace.TotalSeconds);
        Become(AwaitingPeer);
    }

    /// <summary>
    /// Ends the session: the endpoint stops routing here (what the peer still sends starts the next session, what
    /// waited here goes back to it), a connection on its way is withdrawn, and one in use is closed, writing what
    /// it holds first (or reset, for an evicted peer).
    /// </summary>
    private void End(SessionEndReason reason, string text, bool abort = false)
    {
        _end = (reason, text);
        Timers.Cancel(GraceOver.Instance);
        Context.Parent.Tell(new Ending(_peer));
        _provider.Tell(LinkProvider.Cancel.Instance);
        var handBack = !abort;
        if (handBack) _counters.CountDrops(DropReason.QueueDelay, _queue.Drain(datagram => Context.Parent.Tell(datagram)));
        if (_link is null)
        {
            Context.Stop(Self);
            return;
        }
        _link.Tell(abort ? new Link.Abort($"its session ended: {text}") : new Link.Close($"its session ended: {text}"));
        Timers.StartSingleTimer(CloseTimeout.Instance, CloseTimeout.Instance, _settings.Tcp.CloseTimeout);
        Become(message => Closing(message, handBack));
    }

    protected override void PostStop()
    {
        _counters.CountDrops(DropReason.Undelivered, _queue.Discard());
        _side.Sessions.CountEnded(_end.Reason);
        _side.SessionEnds.Log(_log, _peer, $"Session ended for peer {_side.Addresses.Show(_peer)} ({_end.Text}): {_counters}");
    }
}
