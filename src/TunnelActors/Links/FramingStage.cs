using System.Net;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using TunnelActors.Auth;
using TunnelActors.Configuration;
using TunnelActors.Flow;
using TunnelActors.Framing;
using TunnelActors.Observability;
using TunnelActors.Transport;

namespace TunnelActors.Links;

/// <summary>
/// One tunnel connection: the handler of its Akka.IO TCP connection, and the only actor a datagram crosses on
/// it either way. It is let in first (<see cref="LinkAdmission"/>: the handshake with a key; on the forward side,
/// the far side starting a flow), then moves frames: TCP → UDP, frames are decoded in place from each segment
/// (pull mode: the next segment is asked for once one is decoded) and sent at once on its binding's sink
/// (<see cref="SinkDelivery"/>); UDP → TCP, datagrams from its session or flow are written one acknowledged write
/// at a time (<see cref="FrameWriter"/>). It ends one way: <see cref="Link.Close"/> (write what is queued, FIN,
/// read until the far side's, at most <c>tcp.close-timeout</c>) or <see cref="Link.Abort"/>, from its owner or
/// itself, with a reason; then it tells its owner and parent (<see cref="Link.Ended"/>) and stops. What it held
/// and could not deliver is counted. Protocol: <see cref="Link"/>.
/// </summary>
public sealed class FramingStage : UntypedActor, IWithTimers
{
    private sealed class HandshakeDeadline { public static readonly HandshakeDeadline Instance = new(); }

    private sealed class FirstFrameDeadline { public static readonly FirstFrameDeadline Instance = new(); }

    private sealed class BindDeadline { public static readonly BindDeadline Instance = new(); }

    private sealed class CloseDeadline { public static readonly CloseDeadline Instance = new(); }

    private readonly IActorRef _connection;
    private readonly LinkRole _role;
    private readonly TunnelSettings _settings;
    private readonly EndPoint _remote;
    private readonly LinkAdmission _admission;
    private readonly FrameDecoder _decoder = new();
    private readonly FrameWriter _writer;
    private readonly SideResources _side;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IDatagramReceiver _noPeer;
    private readonly IDatagramReceiver _undelivered;

    private IActorRef _owner;
    private Link.Binding? _binding;
    private SinkDelivery? _delivery;
    private TrafficCounters _counters;
    private FlowId? _ownFlow;
    private bool _admitted;
    private bool _carried;
    private string _closeReason = "";

    public FramingStage(IActorRef connection, LinkRole role, TunnelSettings settings, EndPoint remote, IActorRef owner, Link.Binding? binding)
    {
        _connection = connection;
        _role = role;
        _settings = settings;
        _remote = remote;
        _owner = owner;
        _side = SideResources.For(Context.System);
        _counters = _side.Counters;
        var tcp = settings.Tcp;
        _writer = new FrameWriter(connection, Self, new SendBuffer(tcp.SendQueueLimit, tcp.MaxWrite, tcp.MaxQueueDelay, _side.Budget));
        _admission = new LinkAdmission(connection, Self, settings.Auth, role, _side.Replays);
        _noPeer = new Dropping(() => _counters, DropReason.NoPeerBound);
        _undelivered = new Dropping(() => _counters, DropReason.Undelivered);
        if (binding is not null) Bind(binding);
    }

    /// <param name="owner">Who hears of the connection from the start, so that nothing it says goes to a former owner.</param>
    /// <param name="binding">Where its datagrams go, when that is known before it is admitted (a session's own dial).</param>
    public static Props Props(IActorRef connection, LinkRole role, TunnelSettings settings, EndPoint remote, IActorRef owner,
        Link.Binding? binding = null) =>
        Akka.Actor.Props.Create(() => new FramingStage(connection, role, settings, remote, owner, binding)).WithMailbox(TunnelSettings.ConnectionMailbox);

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        _side.Links.CountOpened(_role.End == HandshakeRole.Listener ? LinkOrigin.Accepted : LinkOrigin.Dialed);
        Context.Watch(_connection);
        Context.Watch(_owner);
        _connection.Tell(new Tcp.Register(Self, keepOpenOnPeerClosed: false, useResumeWriting: false));
        if (_role.FirstFrameTimeout > TimeSpan.Zero)
            Timers.StartSingleTimer(FirstFrameDeadline.Instance, FirstFrameDeadline.Instance, _role.FirstFrameTimeout);
        var start = _admission.Start();
        RequestRead();
        if (start is LinkAdmission.Admitted admitted)
        {
            Admit(admitted);
            return;
        }
        Timers.StartSingleTimer(HandshakeDeadline.Instance, HandshakeDeadline.Instance, _settings.Auth.HandshakeTimeout);
        Become(Proving);
    }

    protected override void OnReceive(object message) => Unhandled(message);

    /// <summary>Proving the key both ways; nothing else is written or decoded.</summary>
    private void Proving(object message)
    {
        switch (message)
        {
            case Tcp.Received received:
                switch (_admission.Receive(received.Data.ToReadOnlySpan()))
                {
                    case LinkAdmission.Admitted admitted:
                        Timers.Cancel(HandshakeDeadline.Instance);
                        if (admitted.Surplus.Length == 0) RequestRead();
                        Admit(admitted);
                        break;
                    case LinkAdmission.Failed failed:
                        Refuse(Refusal.HandshakeFailed, failed.Reason);
                        break;
                    default:
                        RequestRead();
                        break;
                }
                break;
            case HandshakeDeadline:
                Refuse(Refusal.HandshakeTimeout, $"did not finish the handshake within {_settings.Auth.HandshakeTimeout.TotalSeconds:0.#} s " +
                    "(a far side without a key waits in silence: give both sides the same tunnel.auth.psk-file)");
                break;
            case Link.Close close:
                // Nothing but the handshake was written: close at once, there is no queue to write first.
                _connection.Tell(Tcp.Close.Instance);
                End(LinkEnd.Closed, close.Reason);
                break;
            default:
                Always(message);
                break;
        }
    }

    private void Admit(LinkAdmission.Admitted admitted)
    {
        _admitted = true;
        _ownFlow = admitted.Flow;
        var news = new Link.Admitted(admitted.Flow);
        _owner.Tell(news);
        if (!Context.Parent.Equals(_owner)) Context.Parent.Tell(news);
        // What followed the far side's proof is the start of the stream.
        if (admitted.Surplus.Length > 0) Self.Tell(new Tcp.Received(ByteString.FromBytes(admitted.Surplus)), _connection);
        if (_binding is not null) BecomeRelaying(resumeReading: false);
        else Become(_role.AwaitsFlow ? AwaitingFlow : Idle);
    }

    /// <summary>Admitted, given to nobody yet (a pooled connection on the UDP-listen side): frames are counted and dropped.</summary>
    private void Idle(object message)
    {
        switch (message)
        {
            case Tcp.Received received:
                RequestRead();
                _decoder.Decode(received.Data.ToReadOnlySpan(), _noPeer);
                break;
            case Link.Attach attach:
                OnAttach(attach);
                // Idle reads on after every segment: one read is outstanding already.
                if (_binding is not null) BecomeRelaying(resumeReading: false);
                break;
            default:
                Always(message);
                break;
        }
    }

    /// <summary>Forward side, until the far side starts a flow: what arrives is held, and nothing is bound yet.</summary>
    private void AwaitingFlow(object message)
    {
        switch (message)
        {
            case Tcp.Received received:
                _decoder.Hold(received.Data.ToReadOnlySpan());
                if (!_admission.StartsFlow(_decoder, out var flow, out var malformed))
                {
                    if (malformed is not null)
                    {
                        Refuse(Refusal.HandshakeFailed, malformed);
                        break;
                    }
                    RequestRead();
                    break;
                }
                Timers.Cancel(FirstFrameDeadline.Instance);
                // A flow that never takes it (one that stopped first) must not leave it held for good.
                if (_settings.Tcp.FirstFrameTimeout > TimeSpan.Zero)
                    Timers.StartSingleTimer(BindDeadline.Instance, BindDeadline.Instance, _settings.Tcp.FirstFrameTimeout);
                _owner.Tell(new Link.FirstFrame(flow, _remote));
                Become(Held);
                break;
            default:
                Always(message);
                break;
        }
    }

    /// <summary>The far side started a flow; its frames wait here, and no more are read, until the flow binds the connection.</summary>
    private void Held(object message)
    {
        switch (message)
        {
            case Tcp.Received received:
                _decoder.Hold(received.Data.ToReadOnlySpan());
                break;
            case Link.Attach attach:
                OnAttach(attach);
                if (_binding is not null) BecomeRelaying(resumeReading: true);
                break;
            case Link.Close close:
                BeginClosing(close.Reason);
                // Reading was paused here: read on to see the far side's FIN.
                RequestRead();
                break;
            case BindDeadline:
                _connection.Tell(Tcp.Abort.Instance);
                End(LinkEnd.Closed, $"no flow took it within {_settings.Tcp.FirstFrameTimeout.TotalSeconds:0.#} s of its first frame, reset");
                break;
            default:
                Always(message);
                break;
        }
    }

    /// <param name="resumeReading">Whether reading was paused (held for a binding): one read at a time is ever outstanding.</param>
    private void BecomeRelaying(bool resumeReading)
    {
        Timers.Cancel(BindDeadline.Instance);
        Become(Relaying);
        // With a key, this side's peers' connections start by naming their flow: the one they had before, or this connection's own.
        if (_admission.Keyed && !_role.AwaitsFlow && (_binding!.Flow ?? _ownFlow) is { } flow)
            _connection.Tell(Tcp.Write.Create(LinkAdmission.NameFrame(flow)));
        if (resumeReading) RequestRead();
        _decoder.DecodeHeld(_delivery!);
        _delivery!.Flush();
        _writer.Flush(_counters);
    }

    private void Relaying(object message)
    {
        switch (message)
        {
            case Tcp.Received received:
                RequestRead();
                _carried = true;
                _decoder.Decode(received.Data.ToReadOnlySpan(), _delivery!);
                _delivery!.Flush();
                _binding!.Activity.Touch();
                break;
            case Udp.Received datagram:
                _carried = true;
                _binding!.Activity.Touch();
                _binding.Activity.SawIntoTunnel();
                _writer.Enqueue(datagram.Data.ToReadOnlySpan(), _counters);
                break;
            default:
                Always(message);
                break;
        }
    }

    /// <summary>Writing what is queued, then FIN, and reading until the far side's: what still arrives is counted, not delivered.</summary>
    private void Closing(object message)
    {
        switch (message)
        {
            case FrameWriter.Ack:
                _writer.Acknowledged();
                FlushThenClose();
                break;
            case Tcp.Received received:
                RequestRead();
                _decoder.Decode(received.Data.ToReadOnlySpan(), _undelivered);
                break;
            case Link.Close:
                break;
            case CloseDeadline:
                _connection.Tell(Tcp.Abort.Instance);
                End(LinkEnd.Closed, $"{_closeReason}; the far side did not finish closing within tcp.close-timeout, reset");
                break;
            default:
                Always(message);
                break;
        }
    }

    private void Always(object message)
    {
        switch (message)
        {
            case Link.Attach attach:
                OnAttach(attach);
                break;
            case Udp.Received:
                _counters.CountDrop(DropReason.Undelivered);
                break;
            case FrameWriter.Ack:
                _writer.Acknowledged();
                _writer.Flush(_counters);
                break;
            case FrameWriter.Due:
                _writer.Write(_counters);
                break;
            case Link.Close close:
                BeginClosing(close.Reason);
                break;
            case Link.Abort abort:
                _connection.Tell(Tcp.Abort.Instance);
                End(LinkEnd.Closed, abort.Reason);
                break;
            case FirstFrameDeadline:
                Refuse(Refusal.Silent, $"sent no whole frame within {_role.FirstFrameTimeout.TotalSeconds:0.#} s");
                break;
            case Tcp.CommandFailed { Cmd: Tcp.Write { Ack: FrameWriter.Ack } } failed:
                // The socket refused the write: the connection is going down, ConnectionClosed follows.
                _writer.Acknowledged();
                _log.Debug("TCP write failed: {0}", failed.Cause);
                break;
            case Tcp.CommandFailed:
                break;
            case Tcp.ConnectionClosed closed:
                OnClosed(closed);
                break;
            case Terminated t when t.ActorRef.Equals(_connection):
                Lost("the connection's actor stopped");
                break;
            case Terminated t when t.ActorRef.Equals(_owner):
                Self.Tell(new Link.Close("its owner stopped"));
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void OnAttach(Link.Attach attach)
    {
        if (!attach.Owner.Equals(_owner))
        {
            Context.Unwatch(_owner);
            _owner = attach.Owner;
            Context.Watch(_owner);
            if (_admitted) _owner.Tell(new Link.Admitted(_ownFlow));
        }
        if (attach.Binding is { } binding) Bind(binding);
    }

    private void Bind(Link.Binding binding)
    {
        _binding = binding;
        _counters = binding.Counters;
        _delivery = new SinkDelivery(binding, _log, SendErrorLog.For(Context.System));
    }

    private void BeginClosing(string reason)
    {
        _log.Debug("Closing the tunnel connection with {0}: {1}", _side.Addresses.Show(_remote), reason);
        _closeReason = reason;
        Timers.Cancel(BindDeadline.Instance);
        Become(Closing);
        Timers.StartSingleTimer(CloseDeadline.Instance, CloseDeadline.Instance, _settings.Tcp.CloseTimeout);
        FlushThenClose();
    }

    private void FlushThenClose()
    {
        // FIN, but read on until the far side's: frames it sent before it saw ours are counted, not lost unseen.
        if (_writer.Flush(_counters)) _connection.Tell(Tcp.ConfirmedClose.Instance);
    }

    private void OnClosed(Tcp.ConnectionClosed closed)
    {
        switch (closed)
        {
            case Tcp.ConfirmedClosed or Tcp.Closed or Tcp.Aborted when _closeReason.Length > 0:
                End(LinkEnd.Closed, _closeReason);
                break;
            case Tcp.ErrorClosed error:
                Lost($"failed: {error.Cause}");
                break;
            default:
                Lost("the far side closed it");
                break;
        }
    }

    /// <summary>The far side closed or reset the connection, or it failed.</summary>
    private void Lost(string reason)
    {
        if (!_admitted && _admission.KeyRefused) End(LinkEnd.KeyRefused, $"{reason} after this side's proof");
        else End(_carried ? LinkEnd.Lost : LinkEnd.LostUnused, reason);
    }

    /// <summary>Turns the far side away: counted, logged at most once a minute per source, the connection reset.</summary>
    private void Refuse(Refusal reason, string why)
    {
        _side.Links.CountRefused(reason);
        _side.Refusals.Log(_log, _remote, $"Tunnel connection with {_side.Addresses.Show(_remote)} refused: {why}");
        _connection.Tell(Tcp.Abort.Instance);
        End(LinkEnd.Refused, why);
    }

    /// <summary>The one way out: what it held is counted as dropped, the owner and the parent are told, and it stops.</summary>
    private void End(LinkEnd how, string reason)
    {
        Timers.CancelAll();
        _decoder.DecodeHeld(_undelivered);
        _counters.CountDrops(DropReason.Undelivered, _writer.Discard());
        var ended = new Link.Ended(how, reason, _admitted);
        _owner.Tell(ended);
        if (!Context.Parent.Equals(_owner)) Context.Parent.Tell(ended);
        Context.Stop(Self);
    }

    private void RequestRead() => _connection.Tell(Tcp.ResumeReading.Instance);

    protected override void PostStop()
    {
        _side.Links.CountClosed();
        _decoder.Dispose();
        _counters.CountDrops(DropReason.Undelivered, _writer.Discard());
    }
}
