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
/// Handler of one Akka.IO TCP connection, and the only actor a datagram crosses on either way through it.
/// <para>
/// TCP → UDP: frames are decoded in place from each segment (only an unfinished frame is copied, to be
/// completed by the next segment) and each datagram is sent at once on its session's <see cref="UdpSink"/>.
/// Reading is in pull mode: the next segment is asked for when one arrives, so at most one waits here,
/// and none is read while the datagrams have nowhere to go yet.
/// </para>
/// <para>
/// UDP → TCP: datagrams (<see cref="Udp.Received"/>, from the UDP-listen endpoint or straight from the
/// session's forward socket) are framed into a <see cref="SendBuffer"/> and written with acknowledgements,
/// one write in flight, the rest coalescing behind it.
/// </para>
/// A pooled connection has no owner yet: what it receives is dropped and counted until a session is
/// attached; it stops when the connection closes. An owned stage reports the closed connection
/// (<see cref="ConnectionLost"/>) and stops with its owner; an owner that stops first gets its queue
/// written and the connection closed.
/// </summary>
public sealed class FramingStage : UntypedActor, IDatagramReceiver, IWithTimers
{
    /// <summary>
    /// The session that owns the connection from now on: its counters, its activity stamp and, when already
    /// known, where decoded datagrams go. A session without a sink yet is told <see cref="Activated"/> on the
    /// first frame and answers with <see cref="SinkReady"/>.
    /// </summary>
    public sealed record Attach(IActorRef Owner, TrafficCounters Counters, ActivityStamp Activity, UdpSink? Sink);

    /// <summary>Owner → stage: decoded datagrams go here from now on.</summary>
    public sealed record SinkReady(UdpSink Sink);

    /// <summary>Stage → owner without a sink: the first frame arrived; reading waits for <see cref="SinkReady"/>.</summary>
    public sealed class Activated
    {
        public static readonly Activated Instance = new();
        private Activated() { }
    }

    /// <summary>
    /// Stage → owner: the connection is closed (by the peer, an error, or after <see cref="Close"/>). The stage
    /// stops with its owner: a forward socket it handles must be released first.
    /// </summary>
    public sealed class ConnectionLost
    {
        public static readonly ConnectionLost Instance = new();
        private ConnectionLost() { }
    }

    /// <summary>Owner → stage: write what is queued, then close the connection (FIN).</summary>
    public sealed class Close
    {
        public static readonly Close Instance = new();
        private Close() { }
    }

    private sealed class WriteAck : Tcp.Event
    {
        public static readonly WriteAck Instance = new();
    }

    /// <summary>
    /// Stage → owner (or, for a pooled stage, its pool): the connection's handshake, if any, has passed; it
    /// may carry datagrams now (or be leased).
    /// </summary>
    public sealed class Ready
    {
        public static readonly Ready Instance = new();
        private Ready() { }
    }

    /// <summary>An accepted connection sent nothing within <c>tcp.first-frame-timeout</c>.</summary>
    private sealed class FirstFrameDeadline
    {
        public static readonly FirstFrameDeadline Instance = new();
    }

    /// <summary>The handshake took longer than <c>auth.handshake-timeout</c>.</summary>
    private sealed class HandshakeDeadline
    {
        public static readonly HandshakeDeadline Instance = new();
    }

    /// <summary>Closing took <c>tcp.close-timeout</c>: the peer does not take what is queued. Reset.</summary>
    private sealed class CloseDeadline
    {
        public static readonly CloseDeadline Instance = new();
    }

    private readonly IActorRef _connection;
    private readonly IFrameCodec _codec;
    private readonly FrameDecoder _decoder;
    private readonly SendBuffer _sendBuffer;
    private readonly TimeSpan _closeTimeout;
    private readonly TimeSpan _handshakeTimeout;
    private readonly TimeSpan _firstFrameTimeout;
    private readonly LinkOrigin _origin;
    private bool _awaitingFirstFrame;
    private readonly EndPoint _remote;
    private readonly SideResources _side;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    private Handshake? _handshake;
    private IActorRef? _owner;
    private TrafficCounters _counters;
    private ActivityStamp? _activity;
    private UdpSink? _sink;
    private bool _writeInFlight;
    private bool _ownerGone;

    /// <param name="end">Which end of the connection this side is: the handshake proves it.</param>
    /// <param name="remote">The far end, for what the stage logs.</param>
    public FramingStage(IActorRef connection, IFrameCodec codec, TunnelSettings settings, HandshakeRole end, EndPoint remote, Attach? attach)
    {
        _connection = connection;
        _codec = codec;
        _decoder = new FrameDecoder(codec);
        _side = SideResources.For(Context.System);
        _counters = _side.Counters;
        _sendBuffer = new SendBuffer(codec, settings.Tcp, _side.Budget);
        _closeTimeout = settings.Tcp.CloseTimeout;
        _handshakeTimeout = settings.Auth.HandshakeTimeout;
        _firstFrameTimeout = end == HandshakeRole.Listener ? settings.Tcp.FirstFrameTimeout : TimeSpan.Zero;
        _remote = remote;
        _origin = end == HandshakeRole.Listener ? LinkOrigin.Accepted : LinkOrigin.Dialed;
        if (settings.Auth.Key is { } key) _handshake = new Handshake(key, end);
        if (attach is not null) Own(attach);
    }

    public static Props Props(IActorRef connection, IFrameCodec codec, TunnelSettings settings, HandshakeRole end, EndPoint remote,
        Attach? attach = null) =>
        Akka.Actor.Props.Create(() => new FramingStage(connection, codec, settings, end, remote, attach))
            .WithMailbox(TunnelSettings.ConnectionMailbox);

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        _side.Links.CountOpened(_origin);
        Context.Watch(_connection);
        _connection.Tell(new Tcp.Register(Self, keepOpenOnPeerClosed: false, useResumeWriting: false));
        if (_firstFrameTimeout > TimeSpan.Zero)
        {
            _awaitingFirstFrame = true;
            Timers.StartSingleTimer(FirstFrameDeadline.Instance, FirstFrameDeadline.Instance, _firstFrameTimeout);
        }
        if (_handshake is { } handshake)
        {
            _connection.Tell(Tcp.Write.Create(ByteString.FromBytes(handshake.Greeting)));
            Timers.StartSingleTimer(HandshakeDeadline.Instance, HandshakeDeadline.Instance, _handshakeTimeout);
            Become(Authenticating);
        }
        else
        {
            BecomeReady();
        }
        RequestRead();
    }

    /// <summary>Proving the key both ways; datagrams to send wait in the send queue, no frame is written.</summary>
    private void Authenticating(object message)
    {
        switch (message)
        {
            case Tcp.Received received:
                OnHandshakeBytes(received.Data.ToReadOnlySpan());
                break;
            case HandshakeDeadline:
                Refuse(Refusal.HandshakeTimeout, $"did not finish the handshake within {_handshakeTimeout.TotalSeconds:0.#} s " +
                    "(a far side without a key waits in silence: give both sides the same tunnel.auth.psk-file)");
                break;
            case Udp.Received datagram when _sink is not null:
                Enqueue(datagram);
                break;
            case Attach attach:
                Own(attach);
                break;
            default:
                Common(message);
                break;
        }
    }

    /// <summary>A whole frame came: the first-frame deadline no longer applies. (Half a frame does not count.)</summary>
    private void FirstFrameArrived()
    {
        _awaitingFirstFrame = false;
        Timers.Cancel(FirstFrameDeadline.Instance);
    }

    private void OnHandshakeBytes(ReadOnlySpan<byte> data)
    {
        var result = _handshake!.Receive(data);
        if (result.ProofToSend is { } proof) _connection.Tell(Tcp.Write.Create(ByteString.FromBytes(proof)));
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
                var ready = BecomeReady();
                Flush();
                // What followed the peer's proof is the start of the frame stream.
                if (result.Surplus == 0) RequestRead();
                else ready(new Tcp.Received(ByteString.CopyFrom(data[^result.Surplus..].ToArray())));
                break;
        }
    }

    /// <summary>Turns the peer away: counted, logged at most once a minute per source, the connection reset.</summary>
    private void Refuse(Refusal reason, string why)
    {
        _side.Links.CountRefused(reason);
        _side.Refusals.Log(_log, _remote, $"Tunnel connection with {_side.Addresses.Show(_remote)} refused: {why}");
        _connection.Tell(Tcp.Abort.Instance);
        OnConnectionGone();
    }

    /// <summary>Takes up the behaviour the stage's owner calls for, and tells the owner, or the pool, that it is ready.</summary>
    private UntypedReceive BecomeReady()
    {
        UntypedReceive ready = _owner is null ? Pooled : _sink is null ? AwaitingSink : Relaying;
        // A pooled connection on the NAT box is silent until a peer comes: once admitted (handshake or
        // tcp.allow), it is not held to the first-frame deadline.
        if (_owner is null) FirstFrameArrived();
        (_owner ?? Context.Parent).Tell(Ready.Instance);
        Become(ready);
        return ready;
    }

    protected override void OnReceive(object message) => Unhandled(message);

    /// <summary>No session yet: frames are counted and dropped; reading goes on.</summary>
    private void Pooled(object message)
    {
        switch (message)
        {
            case Tcp.Received received:
                RequestRead();
                Decode(received.Data.ToReadOnlySpan());
                break;
            case Attach attach:
                Own(attach);
                BecomeReady();
                break;
            default:
                Common(message);
                break;
        }
    }

    /// <summary>Owned, but the datagrams have nowhere to go yet: hold what arrived and read no more.</summary>
    private void AwaitingSink(object message)
    {
        switch (message)
        {
            case Tcp.Received received:
                if (_decoder.HeldBytes == 0) _owner.Tell(Activated.Instance);
                _decoder.Hold(received.Data.ToReadOnlySpan());
                break;
            case SinkReady ready:
                _sink = ready.Sink;
                Become(Relaying);
                RequestRead();
                DecodeHeld();
                break;
            default:
                Common(message);
                break;
        }
    }

    private void Relaying(object message)
    {
        switch (message)
        {
            case Tcp.Received received:
                RequestRead();
                Decode(received.Data.ToReadOnlySpan());
                break;
            case Udp.Received datagram:
                Enqueue(datagram);
                break;
            default:
                Common(message);
                break;
        }
    }

    /// <summary>The connection is gone; the stage waits to stop with its owner.</summary>
    private void Lost(object message)
    {
        switch (message)
        {
            case Udp.Received:
                _counters.CountDrop(DropReason.Undelivered);
                break;
            case Close:
                // Asked to close after the connection went: it is closed already.
                _owner?.Tell(ConnectionLost.Instance);
                break;
            case Terminated t when t.ActorRef.Equals(_owner):
                Context.Stop(Self);
                break;
        }
    }

    /// <summary>Writing what is queued before the connection closes; nothing more is read or taken.</summary>
    private void Closing(object message)
    {
        switch (message)
        {
            case WriteAck:
                Written();
                FlushThenClose();
                break;
            case Tcp.Received:
                break;
            case Udp.Received:
                _counters.CountDrop(DropReason.Undelivered);
                break;
            case Close:
                break;
            case Terminated t when t.ActorRef.Equals(_owner):
                _ownerGone = true;
                break;
            case CloseDeadline:
                _log.Debug("TCP connection did not take what was queued within {0}; resetting it", _closeTimeout);
                _connection.Tell(Tcp.Abort.Instance);
                OnConnectionGone();
                break;
            default:
                Common(message);
                break;
        }
    }

    private void Common(object message)
    {
        switch (message)
        {
            case FirstFrameDeadline:
                Refuse(Refusal.Silent, $"sent no whole frame within {_firstFrameTimeout.TotalSeconds:0.#} s");
                break;
            case WriteAck:
                Written();
                Flush();
                break;
            case Udp.Received:
                _counters.CountDrop(DropReason.Undelivered);
                break;
            case Close:
                BeginClosing();
                break;
            case Tcp.CommandFailed { Cmd: Tcp.Write { Ack: WriteAck } } failed:
                // The socket refused the write: the connection is going down, ConnectionClosed follows.
                Written();
                _log.Debug("TCP write failed: {0}", failed.Cause);
                break;
            case Tcp.ConnectionClosed closed:
                _log.Debug("TCP connection closed: {0}", closed.GetType().Name);
                OnConnectionGone();
                break;
            case Terminated t when t.ActorRef.Equals(_connection):
                OnConnectionGone();
                break;
            case Terminated t when t.ActorRef.Equals(_owner):
                _ownerGone = true;
                BeginClosing();
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void Own(Attach attach)
    {
        _owner = attach.Owner;
        _counters = attach.Counters;
        _activity = attach.Activity;
        _sink = attach.Sink;
        Context.Watch(_owner);
    }

    private void OnConnectionGone()
    {
        Timers.CancelAll();
        _sendBuffer.Discard();
        if (_owner is null || _ownerGone)
        {
            Context.Stop(Self);
            return;
        }
        _owner.Tell(ConnectionLost.Instance);
        Become(Lost);
    }

    private void BeginClosing()
    {
        Become(Closing);
        Timers.StartSingleTimer(CloseDeadline.Instance, CloseDeadline.Instance, _closeTimeout);
        FlushThenClose();
    }

    private void Written()
    {
        _writeInFlight = false;
        _sendBuffer.Written();
    }

    private void RequestRead() => _connection.Tell(Tcp.ResumeReading.Instance);

    private void Decode(ReadOnlySpan<byte> segment)
    {
        try
        {
            _decoder.Decode(segment, this);
        }
        catch (FrameFormatException e)
        {
            Malformed(e);
        }
        _activity?.Touch();
    }

    /// <summary>Decodes what was held while the sink was not ready.</summary>
    private void DecodeHeld()
    {
        try
        {
            _decoder.DecodeHeld(this);
        }
        catch (FrameFormatException e)
        {
            Malformed(e);
        }
        _activity?.Touch();
    }

    void IDatagramReceiver.Receive(ReadOnlySpan<byte> datagram)
    {
        if (_awaitingFirstFrame) FirstFrameArrived();
        if (_sink is null) _counters.CountDrop(DropReason.NoPeerBound);
        else if (datagram.Length > _sink.MaxDatagram) _counters.CountDrop(DropReason.Oversize);
        else if (_sink.TrySend(datagram, out var error))
        {
            _counters.CountToUdp(datagram.Length);
            _activity?.SawFromTunnel();
        }
        else
        {
            _counters.CountDrop(error.Reason);
            _side.SendErrors.Log(_log, error, _sink);
        }
    }

    private void Malformed(FrameFormatException e) => Refuse(Refusal.Malformed, $"malformed stream ({e.Message})");

    private void Enqueue(Udp.Received received)
    {
        if (!received.Sender.Equals(_sink!.Destination))
        {
            _counters.CountDrop(DropReason.ForeignSource);
            return;
        }
        _activity!.Touch();
        _activity.SawIntoTunnel();
        var datagram = received.Data;
        var encoded = _codec.EncodedLength(datagram.Count);
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
        // No frame may go out before this side's proof: the peer would read it as one.
        if (_writeInFlight || _handshake is not null) return false;
        var write = _sendBuffer.TakeForWrite(Environment.TickCount64, out var stale);
        _counters.CountDrops(DropReason.QueueDelay, stale);
        if (write is not { } frames) return true;
        _writeInFlight = true;
        _connection.Tell(Tcp.Write.Create(frames.Data, WriteAck.Instance));
        _counters.CountToTcp(frames.Datagrams, frames.PayloadBytes);
        return false;
    }

    private void FlushThenClose()
    {
        if (Flush()) _connection.Tell(Tcp.Close.Instance);
    }

    protected override void PostStop()
    {
        _side.Links.CountClosed();
        _decoder.Dispose();
        _sendBuffer.Discard();
        base.PostStop();
    }
}
