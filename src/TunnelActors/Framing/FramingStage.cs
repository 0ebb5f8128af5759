using Akka.Actor;
using Akka.Event;
using Akka.IO;
using TunnelActors.Sessions;

namespace TunnelActors.Framing;

/// <summary>
/// Handler of one Akka.IO TCP connection. Turns the byte stream into whole datagrams for its owner, and the
/// owner's datagrams into frames written with acknowledgements, one write in flight, coalescing the rest in a
/// bounded buffer. Reading is in pull mode: a new segment is read only while fewer than
/// <c>tcp.inbound-batches-in-flight</c> batches wait for the owner, so a slow UDP side slows the TCP peer
/// instead of filling a mailbox. The owner may be given later (<see cref="Attach"/>): frames that arrive
/// before are dropped and counted. The stage stops when the connection closes or its owner stops.
/// </summary>
public sealed class FramingStage : UntypedActor
{
    /// <summary>Bind the connection to the session that owns it from now on.</summary>
    public sealed record Attach(IActorRef Owner, TrafficCounters Counters);

    /// <summary>Owner → stage: send one datagram through the tunnel.</summary>
    public sealed record Send(ByteString Datagram);

    /// <summary>Stage → owner: the whole datagrams decoded from one TCP segment. Answer with <see cref="Consumed"/>.</summary>
    public sealed record Inbound(IReadOnlyList<ByteString> Datagrams);

    /// <summary>Owner → stage: an <see cref="Inbound"/> batch has been handled.</summary>
    public sealed class Consumed
    {
        public static readonly Consumed Instance = new();
        private Consumed() { }
    }

    /// <summary>Owner → stage: flush what is queued, close the connection and stop.</summary>
    public sealed class Close
    {
        public static readonly Close Instance = new();
        private Close() { }
    }

    private sealed class WriteAck : Tcp.Event
    {
        public static readonly WriteAck Instance = new();
    }

    private readonly IActorRef _connection;
    private readonly IFrameCodec _codec;
    private readonly TunnelSettings _settings;
    private readonly TrafficCounters _sideCounters;
    private readonly ReceiveBuffer _received = new();
    private readonly SendBuffer _sendBuffer;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    private IActorRef? _owner;
    private TrafficCounters _counters;
    private int _batchesInFlight;
    private bool _readRequested;
    private bool _writeInFlight;
    private bool _closing;

    public FramingStage(IActorRef connection, IFrameCodec codec, TunnelSettings settings, TrafficCounters sideCounters, Attach? attach)
    {
        _connection = connection;
        _codec = codec;
        _settings = settings;
        _sideCounters = sideCounters;
        _counters = sideCounters;
        _sendBuffer = new SendBuffer(settings.Tcp.SendQueueLimit);
        if (attach is not null) AttachTo(attach);
    }

    public static Props Props(IActorRef connection, IFrameCodec codec, TunnelSettings settings, TrafficCounters sideCounters, Attach? attach = null) =>
        Akka.Actor.Props.Create(() => new FramingStage(connection, codec, settings, sideCounters, attach)).WithMailbox(TunnelSettings.Mailbox);

    protected override void PreStart()
    {
        Context.Watch(_connection);
        _connection.Tell(new Tcp.Register(Self, keepOpenOnPeerClosed: false, useResumeWriting: false));
        RequestRead();
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Tcp.Received received:
                OnSegment(received.Data);
                break;
            case Consumed:
                _batchesInFlight--;
                if (!_readRequested) RequestRead();
                break;
            case Send send:
                Enqueue(send.Datagram);
                break;
            case WriteAck:
                _writeInFlight = false;
                _sendBuffer.Written();
                Flush();
                break;
            case Attach attach:
                AttachTo(attach);
                break;
            case Close:
                _closing = true;
                Flush();
                break;
            case Tcp.CommandFailed failed when failed.Cmd is Tcp.Write:
                // The socket refused the write: the connection is going down, ConnectionClosed follows.
                _writeInFlight = false;
                _sendBuffer.Written();
                _log.Debug("TCP write failed: {0}", failed.Cause);
                break;
            case Tcp.ConnectionClosed closed:
                _log.Debug("TCP connection closed: {0}", closed.GetType().Name);
                Context.Stop(Self);
                break;
            case Terminated t when t.ActorRef.Equals(_connection):
                Context.Stop(Self);
                break;
            case Terminated t when t.ActorRef.Equals(_owner):
                _closing = true;
                Flush();
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void AttachTo(Attach attach)
    {
        _owner = attach.Owner;
        _counters = attach.Counters;
        Context.Watch(_owner);
    }

    private void OnSegment(ByteString data)
    {
        _readRequested = false;
        _received.Append(data);

        var readable = _received.Readable;
        var before = readable.Length;
        List<ByteString>? datagrams = null;
        try
        {
            while (_codec.TryRead(ref readable, out var payload))
            {
                if (_owner is null)
                {
                    _sideCounters.CountDrop(DropReason.NoPeerBound);
                    continue;
                }

                (datagrams ??= []).Add(payload.IsEmpty
                    ? ByteString.Empty
                    : ByteString.CopyFrom(_received.Array, _received.OffsetOf(payload), (int)payload.Length));
            }
        }
        catch (FrameFormatException e)
        {
            _log.Warning("Closing TCP connection: the peer sent a malformed stream ({0})", e.Message);
            _connection.Tell(Tcp.Abort.Instance);
            Context.Stop(Self);
            return;
        }
        _received.Consume(before - readable.Length);

        if (datagrams is not null && _owner is not null)
        {
            _owner.Tell(new Inbound(datagrams));
            _batchesInFlight++;
        }

        RequestRead();
    }

    private void RequestRead()
    {
        if (_closing || _batchesInFlight >= _settings.Tcp.InboundBatchesInFlight) return;
        _readRequested = true;
        _connection.Tell(Tcp.ResumeReading.Instance);
    }

    private void Enqueue(ByteString datagram)
    {
        if (_closing) return;
        var encoded = _codec.EncodedLength(datagram.Count);
        if (datagram.Count > _codec.MaxPayloadLength)
        {
            _counters.CountDrop(DropReason.Oversize);
            return;
        }
        if (!_sendBuffer.HasRoomFor(encoded))
        {
            _counters.CountDrop(DropReason.TcpSendQueueFull);
            return;
        }

        _codec.Write(datagram.ToReadOnlySpan(), _sendBuffer.Writer);
        _counters.CountToTcp(datagram.Count);
        Flush();
    }

    private void Flush()
    {
        if (_writeInFlight) return;
        if (_sendBuffer.PendingBytes > 0)
        {
            _writeInFlight = true;
            _connection.Tell(Tcp.Write.Create(_sendBuffer.TakeForWrite(), WriteAck.Instance));
        }
        else if (_closing)
        {
            _connection.Tell(Tcp.Close.Instance);
        }
    }

    protected override void PostStop()
    {
        _received.Dispose();
        base.PostStop();
    }
}
