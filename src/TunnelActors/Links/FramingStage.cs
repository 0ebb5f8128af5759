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
/// One tunnel connection: the handler of its Akka.IO TCP connection and the only actor a datagram crosses on
/// it, either way. TCP → UDP: frames are decoded in place from each segment (pull mode: the next segment is
/// asked for when one has been decoded) and sent at once on the <see cref="Binding"/>'s sink. UDP → TCP:
/// datagrams (<see cref="Udp.Received"/> from its session or flow) are framed into a <see cref="SendBuffer"/>
/// and written one acknowledged write at a time, the rest coalescing behind it.
/// <para>
/// Its owner (given when it is made: a session, the relay host's pool, the lease pool or the flow table; later
/// the flow or session it is given to) hears when it is admitted (the handshake passed), when the far side starts
/// a flow on it (forward side) and when it ends; its parent (the acceptor or dialer that made it) hears when it is
/// admitted and when it ends.
/// It ends one way: <see cref="Close"/> (write what is queued, FIN, at most <c>tcp.close-timeout</c>) or
/// <see cref="Abort"/> (reset), from its owner or itself, always with a reason; then it tells its owner and its
/// parent <see cref="Ended"/> and stops.
/// </para>
/// </summary>
public sealed class FramingStage : UntypedActor, IDatagramReceiver, IWithTimers
{
    /// <summary>Where decoded datagrams go and whose they are; with a key, the flow the connection carries (written first).</summary>
    public sealed record Binding(UdpSink Sink, TrafficCounters Counters, ActivityStamp Activity, FlowId? Flow = null);

    /// <summary>Owner → link: report to <paramref name="Owner"/> from now on; with a binding, carry its datagrams.</summary>
    public sealed record Attach(IActorRef Owner, Binding? Binding = null);

    /// <summary>
    /// Link → owner and parent: the connection is admitted (its handshake passed, or it needs none), and again to
    /// each owner it is given to later: the one answer to <see cref="LinkProvider.Acquire"/>, from the connection
    /// itself, so that it comes before anything else the connection says. <paramref name="Flow"/> names a flow started on it.
    /// </summary>
    public sealed record Admitted(FlowId? Flow);

    /// <summary>
    /// Link → owner, on the forward side: the far side started using the connection, with a whole frame (no key)
    /// or by naming its flow (key). Reading waits for an <see cref="Attach"/> with a binding.
    /// </summary>
    public sealed record FirstFrame(FlowId? Flow, EndPoint Remote);

    /// <summary>Link → owner and parent: the connection is gone and the link has stopped.</summary>
    /// <param name="Admitted">Whether it got past its handshake.</param>
    public sealed record Ended(LinkEnd How, string Reason, bool Admitted);

    /// <summary>Write what is queued, then FIN; reset after <c>tcp.close-timeout</c> if the far side does not finish.</summary>
    public sealed record Close(string Reason);

    /// <summary>Reset the connection now; what is queued is dropped and counted.</summary>
    public sealed record Abort(string Reason);

    private sealed class WriteAck : Tcp.Event
    {
        public static readonly WriteAck Instance = new();
    }

    private sealed class HandshakeDeadline { public static readonly HandshakeDeadline Instance = new(); }

    private sealed class FirstFrameDeadline { public static readonly FirstFrameDeadline Instance = new(); }

    private sealed class CloseDeadline { public static readonly CloseDeadline Instance = new(); }

    private readonly IActorRef _connection;
    private readonly LinkRole _role;
    private readonly TunnelSettings _settings;
    private readonly EndPoint _remote;
    private readonly FrameDecoder _decoder = new();
    private readonly SendBuffer _sendBuffer;
    private readonly SideResources _side;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    private readonly IDatagramReceiver _noPeer;
    private readonly IDatagramReceiver _undelivered;

    private Handshake? _handshake;
    private FlowId? _ownFlow;
    private bool _proofSent;
    private string _closeReason = "";
    private bool _admitted;
    private bool _carried;
    private bool _writeInFlight;
    private IActorRef _owner;
    private Binding? _binding;
    private TrafficCounters _counters;

    public FramingStage(IActorRef connection, LinkRole role, TunnelSettings settings, EndPoint remote, IActorRef owner, Binding? binding)
    {
        _connection = connection;
        _role = role;
        _settings = settings;
        _remote = remote;
        _owner = owner;
        _binding = binding;
        _side = SideResources.For(Context.System);
        _counters = binding?.Counters ?? _side.Counters;
        var tcp = settings.Tcp;
        _sendBuffer = new SendBuffer(tcp.SendQueueLimit, tcp.MaxWrite, tcp.MaxQueueDelay, _side.Budget);
        if (settings.Auth.Key is { } key) _handshake = new Handshake(key, role.End);
        _noPeer = new Dropping(this, DropReason.NoPeerBound);
        _undelivered = new Dropping(this, DropReason.Undelivered);
    }

    /// <param name="owner">Who hears of the connection from the start, so that nothing it says goes to a former owner.</param>
    /// <param name="binding">Where its datagrams go, when that is known before it is admitted (a session's own dial).</param>
    public static Props Props(IActorRef connection, LinkRole role, TunnelSettings settings, EndPoint remote, IActorRef owner,
        Binding? binding = null) =>
        Akka.Actor.Props.Create(() => new FramingStage(connection, role, settings, remote, owner, binding)).WithMailbox(TunnelSettings.ConnectionMailbox);

    public ITimerScheduler Timers { get; set; } = null!;

    private bool Keyed => _settings.Auth.Key is not null;

    protected override void PreStart()
    {
        _side.Links.CountOpened(_role.End == HandshakeRole.Listener ? LinkOrigin.Accepted : LinkOrigin.Dialed);
        Context.Watch(_connection);
        Context.Watch(_owner);
        _connection.Tell(new Tcp.Register(Self, keepOpenOnPeerClosed: false, useResumeWriting: false));
        if (_role.FirstFrameTimeout > TimeSpan.Zero)
            Timers.StartSingleTimer(FirstFrameDeadline.Instance, FirstFrameDeadline.Instance, _role.FirstFrameTimeout);
        if (_handshake is { } handshake)
        {
            _connection.Tell(Tcp.Write.Create(ByteString.FromBytes(handshake.Greeting)));
            Timers.StartSingleTimer(HandshakeDeadline.Instance, HandshakeDeadline.Instance, _settings.Auth.HandshakeTimeout);
            Become(Admitting);
            RequestRead();
        }
        else
        {
            Admit(null);
            RequestRead();
        }
    }

    protected override void OnReceive(object message) => Unhandled(message);

    /// <summary>Proving the key both ways; nothing else is written or decoded.</summary>
    private void Admitting(object message)
    {
        switch (message)
        {
            case Tcp.Received received:
                OnHandshakeBytes(received.Data.ToReadOnlySpan());
                break;
            case HandshakeDeadline:
                Refuse(Refusal.HandshakeTimeout, $"did not finish the handshake within {_settings.Auth.HandshakeTimeout.TotalSeconds:0.#} s " +
                    "(a far side without a key waits in silence: give both sides the same tunnel.auth.psk-file)");
                break;
            case Close close:
                // Nothing but the handshake was written: close at once, there is no queue to write first.
                _connection.Tell(Tcp.Close.Instance);
                End(LinkEnd.Closed, close.Reason);
                break;
            default:
                Always(message);
                break;
        }
    }

    private void OnHandshakeBytes(ReadOnlySpan<byte> data)
    {
        var handshake = _handshake!;
        var result = handshake.Receive(data);
        if (result.ProofToSend is { } proof)
        {
            _connection.Tell(Tcp.Write.Create(ByteString.FromBytes(proof)));
            _proofSent = true;
        }
        switch (result.State)
        {
            case Handshake.State.InProgress:
                RequestRead();
                break;
            case Handshake.State.Failed:
                Refuse(Refusal.HandshakeFailed, result.Failure!);
                break;
            case Handshake.State.Done:
                Timers.Cancel(HandshakeDeadline.Instance);
                _handshake = null;
                Admit(handshake.FlowId);
                // What followed the peer's proof is the start of the stream.
                if (result.Surplus == 0) RequestRead();
                else Self.Tell(new Tcp.Received(ByteString.CopyFrom(data[^result.Surplus..].ToArray())), _connection);
                break;
        }
    }

    private void Admit(FlowId? flow)
    {
        _admitted = true;
        _ownFlow = flow;
        var admitted = new Admitted(flow);
        _owner.Tell(admitted);
        if (!Context.Parent.Equals(_owner)) Context.Parent.Tell(admitted);
        if (_binding is not null) BecomeRelaying();
        else Become(_role.AwaitsFlow ? AwaitingFlow : Idle);
    }

    /// <summary>Admitted, given to nobody yet (a pooled or freshly dialed connection on the UDP-listen side): frames are counted and dropped.</summary>
    private void Idle(object message)
    {
        switch (message)
        {
            case Tcp.Received received:
                RequestRead();
                _decoder.Decode(received.Data.ToReadOnlySpan(), _noPeer);
                break;
            case Attach attach:
                OnAttach(attach);
                if (_binding is not null) BecomeRelaying();
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
                if (StartedFlow() is { } started)
                {
                    Timers.Cancel(FirstFrameDeadline.Instance);
                    _owner.Tell(started);
                    Become(Held);
                }
                else
                {
                    RequestRead();
                }
                break;
            default:
                Always(message);
                break;
        }
    }

    /// <summary>A whole first frame without a key; with one, the flow's name, which comes first.</summary>
    private FirstFrame? StartedFlow()
    {
        if (!Keyed) return _decoder.HoldsWholeFrame ? new FirstFrame(null, _remote) : null;
        Span<byte> name = stackalloc byte[FlowId.Length];
        return _decoder.TryTakeHeld(name) ? new FirstFrame(FlowId.Read(name), _remote) : null;
    }

    /// <summary>The far side started a flow; its frames wait here, and no more are read, until the flow binds the connection.</summary>
    private void Held(object message)
    {
        switch (message)
        {
            case Tcp.Received received:
                _decoder.Hold(received.Data.ToReadOnlySpan());
                break;
            case Attach attach:
                OnAttach(attach);
                if (_binding is not null) BecomeRelaying();
                break;
            default:
                Always(message);
                break;
        }
    }

    private void BecomeRelaying()
    {
        Become(Relaying);
        var binding = _binding!;
        // With a key, this side's peers' connections start by naming their flow: the one they carried before, or this connection's own.
        if (Keyed && !_role.AwaitsFlow && (binding.Flow ?? _ownFlow) is { } flow)
            _connection.Tell(Tcp.Write.Create(ByteString.FromBytes(flow.ToBytes())));
        RequestRead();
        _decoder.DecodeHeld(this);
        Flush();
    }

    private void Relaying(object message)
    {
        switch (message)
        {
            case Tcp.Received received:
                RequestRead();
                _decoder.Decode(received.Data.ToReadOnlySpan(), this);
                _binding!.Activity.Touch();
                break;
            case Udp.Received datagram:
                Enqueue(datagram.Data);
                break;
            default:
                Always(message);
                break;
        }
    }

    /// <summary>Writing what is queued, then FIN and the far side's FIN; what still arrives is counted, not delivered.</summary>
    private void Closing(object message)
    {
        switch (message)
        {
            case WriteAck:
                Written();
                FlushThenClose();
                break;
            case Tcp.Received received:
                RequestRead();
                _decoder.Decode(received.Data.ToReadOnlySpan(), _undelivered);
                break;
            case Udp.Received:
                _counters.CountDrop(DropReason.Undelivered);
                break;
            case Close:
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
            case Attach attach:
                OnAttach(attach);
                break;
            case Udp.Received:
                _counters.CountDrop(DropReason.Undelivered);
                break;
            case WriteAck:
                Written();
                Flush();
                break;
            case Close close:
                BeginClosing(close.Reason);
                break;
            case Abort abort:
                _connection.Tell(Tcp.Abort.Instance);
                End(LinkEnd.Closed, abort.Reason);
                break;
            case FirstFrameDeadline:
                Refuse(Refusal.Silent, $"sent no whole frame within {_role.FirstFrameTimeout.TotalSeconds:0.#} s");
                break;
            case Tcp.CommandFailed { Cmd: Tcp.Write { Ack: WriteAck } } failed:
                // The socket refused the write: the connection is going down, ConnectionClosed follows.
                Written();
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
                Self.Tell(new Close("its owner stopped"));
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void OnAttach(Attach attach)
    {
        if (!attach.Owner.Equals(_owner))
        {
            Context.Unwatch(_owner);
            _owner = attach.Owner;
            Context.Watch(_owner);
            if (_admitted) _owner.Tell(new Admitted(_ownFlow));
        }
        if (attach.Binding is not { } binding) return;
        _binding = binding;
        _counters = binding.Counters;
    }

    private void BeginClosing(string reason)
    {
        _log.Debug("Closing the tunnel connection with {0}: {1}", _side.Addresses.Show(_remote), reason);
        Become(Closing);
        Timers.StartSingleTimer(CloseDeadline.Instance, CloseDeadline.Instance, _settings.Tcp.CloseTimeout);
        _closeReason = reason;
        FlushThenClose();
    }

    private void FlushThenClose()
    {
        if (!Flush()) return;
        // FIN, but keep reading until the far side's: frames it sent before it saw ours are counted, not lost unseen.
        _connection.Tell(Tcp.ConfirmedClose.Instance);
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
        // A dialer that proved itself and was then shut out: the far side holds another key, or none.
        if (!_admitted && _proofSent && _role.End == HandshakeRole.Dialer) End(LinkEnd.KeyRefused, $"{reason} after this side's proof");
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

    /// <summary>The one way out: what is queued is counted as dropped, the owner and the parent are told, and the link stops.</summary>
    private void End(LinkEnd how, string reason)
    {
        Timers.CancelAll();
        _counters.CountDrops(DropReason.Undelivered, _sendBuffer.Discard());
        var ended = new Ended(how, reason, _admitted);
        _owner.Tell(ended);
        if (!Context.Parent.Equals(_owner)) Context.Parent.Tell(ended);
        Context.Stop(Self);
    }

    private void RequestRead() => _connection.Tell(Tcp.ResumeReading.Instance);

    /// <summary>A decoded datagram while relaying: out on the binding's sink.</summary>
    void IDatagramReceiver.Receive(ReadOnlySpan<byte> datagram)
    {
        _carried = true;
        var binding = _binding!;
        var sink = binding.Sink;
        if (datagram.Length > sink.MaxDatagram) _counters.CountDrop(DropReason.Oversize);
        else if (sink.TrySend(datagram, out var error))
        {
            _counters.CountToUdp(datagram.Length);
            binding.Activity.SawFromTunnel();
        }
        else
        {
            _counters.CountDrop(error.Reason);
            SendErrorLog.For(Context.System).Log(_log, error, sink);
        }
    }

    /// <summary>Decoded datagrams with nowhere to go: counted under a reason.</summary>
    private sealed class Dropping(FramingStage stage, DropReason reason) : IDatagramReceiver
    {
        public void Receive(ReadOnlySpan<byte> datagram) => stage._counters.CountDrop(reason);
    }

    private void Enqueue(ByteString datagram)
    {
        var binding = _binding!;
        _carried = true;
        binding.Activity.Touch();
        binding.Activity.SawIntoTunnel();
        var encoded = LengthPrefixedCodec.Instance.EncodedLength(datagram.Count);
        var now = Environment.TickCount64;
        if (!_sendBuffer.HasRoomFor(encoded))
        {
            _counters.CountDrops(DropReason.QueueDelay, _sendBuffer.DropStale(now));
            if (!_sendBuffer.HasRoomFor(encoded))
            {
                _counters.CountDrop(DropReason.TcpSendQueueFull);
                return;
            }
        }
        if (!_sendBuffer.TryAppend(datagram.ToReadOnlySpan(), now))
        {
            _counters.CountDrop(DropReason.SideMemoryFull);
            return;
        }
        Flush();
    }

    /// <summary>Starts the next write unless one is in flight; true when nothing is left to write.</summary>
    private bool Flush()
    {
        if (_writeInFlight) return false;
        var write = _sendBuffer.TakeForWrite(Environment.TickCount64, out var stale);
        _counters.CountDrops(DropReason.QueueDelay, stale);
        if (write is not { } frames) return true;
        _writeInFlight = true;
        _connection.Tell(Tcp.Write.Create(frames.Data, WriteAck.Instance));
        _counters.CountToTcp(frames.Datagrams, frames.PayloadBytes);
        return false;
    }

    private void Written()
    {
        _writeInFlight = false;
        _sendBuffer.Written();
    }

    protected override void PostStop()
    {
        _side.Links.CountClosed();
        _decoder.Dispose();
        _counters.CountDrops(DropReason.Undelivered, _sendBuffer.Discard());
    }
}
