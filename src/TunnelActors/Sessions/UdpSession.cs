using System.Net;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using TunnelActors.Framing;
using TunnelActors.Transport;

namespace TunnelActors.Sessions;

/// <summary>
/// One phantom peer on the UDP-listen side: the source address:port that its datagrams came from, the
/// TCP connection that carries them, and the way back. Datagrams wait in a bounded queue until the
/// connection is up. The session ends when the peer is idle for <c>session.idle-timeout</c> or its
/// connection closes; the next datagram from the same peer starts a new session.
/// </summary>
public sealed class UdpSession : UntypedActor, IWithTimers
{
    /// <summary>How a session gets its TCP connection.</summary>
    public abstract record LinkSource;

    /// <summary>Dial a connection of its own (UDP listen + TCP connect).</summary>
    public sealed record Dial(EndPoint Remote) : LinkSource;

    /// <summary>Take an idle accepted connection from this pool (UDP listen + TCP listen).</summary>
    public sealed record Lease(IActorRef Pool) : LinkSource;

    private sealed class Redial { public static readonly Redial Instance = new(); }

    private readonly TunnelContext _context;
    private readonly EndPoint _peer;
    private readonly SocketCapture _replySocket;
    private readonly LinkSource _link;
    private readonly TrafficCounters _counters;
    private readonly DatagramQueue _pending;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    private IActorRef? _framing;
    private IdleClock _idle = null!;
    private int _dialFailures;
    private string _endReason = "stopped";

    public UdpSession(TunnelContext context, EndPoint peer, SocketCapture replySocket, LinkSource link)
    {
        _context = context;
        _peer = peer;
        _replySocket = replySocket;
        _link = link;
        _counters = new TrafficCounters(context.Counters);
        _pending = new DatagramQueue(context.Settings.Session.QueueLimit);
    }

    public static Props Props(TunnelContext context, EndPoint peer, SocketCapture replySocket, LinkSource link) =>
        Akka.Actor.Props.Create(() => new UdpSession(context, peer, replySocket, link)).WithMailbox(TunnelSettings.Mailbox);

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        _log.Info("Session started for peer {0}", _peer);
        _idle = new IdleClock(_context.Settings.Session.IdleTimeout, Timers);
        _idle.Start();
        RequestLink();
    }

    private void RequestLink()
    {
        switch (_link)
        {
            case Dial dial:
                TcpDial.Start(Context, Timers, dial.Remote, _context.Settings.Tcp);
                break;
            case Lease lease:
                lease.Pool.Tell(new TcpListenEndpoint.Lease(Self, _counters));
                break;
        }
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Udp.Received received:
                _idle.Touch();
                if (_framing is not null)
                    _framing.Tell(new FramingStage.Send(received.Data));
                else if (!_pending.TryEnqueue(received.Data))
                    _counters.CountDrop(DropReason.SessionQueueFull);
                break;
            case FramingStage.Inbound inbound:
                _idle.Touch();
                foreach (var datagram in inbound.Datagrams)
                {
                    if (_replySocket.TrySend(datagram, _peer)) _counters.CountToUdp(datagram.Count);
                    else _counters.CountDrop(DropReason.UdpSendFailed);
                }
                Sender.Tell(FramingStage.Consumed.Instance);
                break;
            case Tcp.Connected when _framing is not null:
                Sender.Tell(Tcp.Abort.Instance);
                break;
            case Tcp.Connected:
                TcpDial.Answered(Timers);
                Timers.Cancel(Redial.Instance);
                LinkTo(Context.ActorOf(FramingStage.Props(Sender, _context.Codec, _context.Settings, _context.Counters,
                    new FramingStage.Attach(Self, _counters)), "tcp"));
                break;
            case TcpListenEndpoint.Leased leased:
                LinkTo(leased.Framing);
                break;
            case Tcp.CommandFailed { Cmd: Tcp.Connect } failed:
                TcpDial.Answered(Timers);
                RetryDial(TcpDial.Reason(failed));
                break;
            case TcpDial.Unanswered:
                RetryDial("no answer");
                break;
            case Redial:
                RequestLink();
                break;
            case Terminated t when t.ActorRef.Equals(_framing):
                End("tunnel connection closed");
                break;
            case IdleClock.Check:
                if (_idle.Expired()) End(_idle.Reason);
                break;
            case Shutdown:
                End("shutdown");
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void RetryDial(string reason)
    {
        var dial = (Dial)_link;
        var delay = _context.Settings.Tcp.Reconnect.Delay(_dialFailures++);
        _log.Warning("Peer {0}: cannot connect to {1} ({2}); retrying in {3:0.0} s", _peer, dial.Remote, reason, delay.TotalSeconds);
        Timers.StartSingleTimer(Redial.Instance, Redial.Instance, delay);
    }

    private void LinkTo(IActorRef framing)
    {
        _framing = framing;
        Context.Watch(framing);
        foreach (var datagram in _pending.Drain())
            framing.Tell(new FramingStage.Send(datagram));
    }

    private void End(string reason)
    {
        _endReason = reason;
        Context.Stop(Self);
    }

    protected override void PostStop()
    {
        _log.Info("Session ended for peer {0} ({1}): {2}", _peer, _endReason, _counters);
    }
}
