using System.Buffers;
using System.Buffers.Binary;
using System.Net.Security;
using System.Net.WebSockets;

namespace TunnelActors.Carriers;

/// <summary>
/// A WebSocket seen as the byte stream of RFC 4571 frames a tunnel connection carries, so the stage above does not know
/// it runs on one: each frame written goes as one binary message (its payload: one datagram), each message received
/// comes back as one frame. The frames of one write leave in one write to the transport (a TLS record, a system call),
/// as the plain carriers' do. A message larger than a datagram, or a text message, ends the connection.
/// </summary>
internal sealed class MessageStream : DuplexStream, IOutputShutdown
{
    private const int MaxPayload = ushort.MaxValue;
    // A datagram of a path's usual MTU fits; a larger one is assembled.
    private const int ProbeSize = 2048;

    private readonly WebSocket _socket;
    private readonly Stream _transport;
    private readonly GatheringStream _gathering;
    // A frame split across writes (a large datagram the stage writes in parts), until it is whole.
    private byte[]? _carry;
    private int _carried;
    // Where messages are received: most fit whole; a larger one is assembled in _message.
    private readonly byte[] _probe = new byte[ProbeSize];
    // A receive into _probe that would have waited, or one the last read could not take: the next read starts with it.
    private Task<ValueWebSocketReceiveResult>? _stashed;
    // The far side closed; what came before it has been handed out.
    private bool _ended;
    // A message larger than the reader's buffer, still being handed out.
    private byte[]? _message;
    private int _messageAt;
    private int _messageEnd;

    private MessageStream(WebSocket socket, Stream transport, GatheringStream gathering)
    {
        _socket = socket;
        _transport = transport;
        _gathering = gathering;
    }

    /// <summary>The transport the WebSocket is to run on, wrapped so that a write's frames leave together.</summary>
    public static GatheringStream Gather(Stream transport) => new(transport);

    /// <param name="socket">A WebSocket over <paramref name="gathering"/>.</param>
    public static MessageStream Over(WebSocket socket, GatheringStream gathering) => new(socket, gathering.Inner, gathering);

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        while (!data.IsEmpty)
        {
            if (_carried == 0 && WholeFrame(data.Span) is var length and >= 0)
            {
                var rest = data[(2 + length)..];
                await SendAsync(data.Slice(2, length), last: WholeFrame(rest.Span) < 0, cancellationToken);
                data = rest;
                continue;
            }
            _carry ??= ArrayPool<byte>.Shared.Rent(2 + MaxPayload);
            if (_carried < 2)
            {
                var header = Math.Min(2 - _carried, data.Length);
                data.Span[..header].CopyTo(_carry.AsSpan(_carried));
                _carried += header;
                data = data[header..];
                if (_carried < 2) break;
            }
            var total = 2 + BinaryPrimitives.ReadUInt16BigEndian(_carry);
            var take = Math.Min(total - _carried, data.Length);
            data.Span[..take].CopyTo(_carry.AsSpan(_carried));
            _carried += take;
            data = data[take..];
            if (_carried < total) break;
            _carried = 0;
            await SendAsync(_carry.AsMemory(2, total - 2), last: WholeFrame(data.Span) < 0, cancellationToken);
            // Large datagrams are rare: the buffer goes back until the next one.
            ArrayPool<byte>.Shared.Return(_carry);
            _carry = null;
        }
    }

    /// <summary>The payload length of the whole frame <paramref name="data"/> starts with; -1 when it holds none.</summary>
    private static int WholeFrame(ReadOnlySpan<byte> data) =>
        data.Length >= 2 && BinaryPrimitives.ReadUInt16BigEndian(data) is var length && data.Length >= 2 + length ? length : -1;

    /// <param name="last">No whole frame follows in this write: send what was gathered with it.</param>
    private ValueTask SendAsync(ReadOnlyMemory<byte> payload, bool last, CancellationToken cancellationToken)
    {
        _gathering.Gathering = !last;
        return _socket.SendAsync(payload, WebSocketMessageType.Binary, endOfMessage: true, cancellationToken);
    }

    /// <summary>
    /// Hands out the next message as a frame, and behind it every further message already at hand (received without
    /// waiting), as many as fit: one read, and one message to the stage, for what a TLS carrier's read would bring.
    /// A receive that would wait is left running into <see cref="_probe"/>, and the next read starts with it.
    /// </summary>
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_message is not null) return HandOut(buffer.Span);
        if (_ended) return 0;
        ValueWebSocketReceiveResult first;
        if (_stashed is { } stashed)
        {
            _stashed = null;
            first = await stashed.WaitAsync(cancellationToken);
        }
        else first = await _socket.ReceiveAsync(_probe.AsMemory(), cancellationToken);
        var filled = await PlaceAsync(first, buffer, 0, cancellationToken);
        while (_message is null && !_ended && buffer.Length - filled > 2)
        {
            var next = _socket.ReceiveAsync(_probe.AsMemory(), CancellationToken.None);
            if (!next.IsCompletedSuccessfully)
            {
                _stashed = next.AsTask();
                break;
            }
            var result = next.Result;
            if (result.MessageType == WebSocketMessageType.Close)
            {
                _ended = true;
                break;
            }
            if (result.MessageType != WebSocketMessageType.Binary || !result.EndOfMessage || buffer.Length - filled < 2 + result.Count)
            {
                // To be finished, refused or handed out by the next read.
                _stashed = Task.FromResult(result);
                break;
            }
            filled = Place(_probe.AsSpan(0, result.Count), buffer.Span, filled);
        }
        return filled;
    }

    /// <summary>The message <paramref name="received"/> starts (its first bytes in <see cref="_probe"/>), whole, into <paramref name="buffer"/> at <paramref name="filled"/>, or, when it does not fit, into <see cref="_message"/> to be handed out.</summary>
    /// <returns>Where <paramref name="buffer"/> is filled to.</returns>
    private async ValueTask<int> PlaceAsync(ValueWebSocketReceiveResult received, Memory<byte> buffer, int filled, CancellationToken cancellationToken)
    {
        if (Ended(received)) return filled;
        if (received.EndOfMessage && buffer.Length - filled >= 2 + received.Count) return Place(_probe.AsSpan(0, received.Count), buffer.Span, filled);
        var message = ArrayPool<byte>.Shared.Rent(2 + MaxPayload);
        _probe.AsSpan(0, received.Count).CopyTo(message.AsSpan(2));
        var length = received.Count;
        var part = received;
        while (!part.EndOfMessage)
        {
            if (length == MaxPayload)
            {
                ArrayPool<byte>.Shared.Return(message);
                throw new IOException($"WebSocket: a message longer than {MaxPayload} bytes, the most a datagram holds");
            }
            part = await _socket.ReceiveAsync(message.AsMemory(2 + length, MaxPayload - length), cancellationToken);
            if (Ended(part))
            {
                ArrayPool<byte>.Shared.Return(message);
                return filled;
            }
            length += part.Count;
        }
        if (buffer.Length - filled >= 2 + length)
        {
            filled = Place(message.AsSpan(2, length), buffer.Span, filled);
            ArrayPool<byte>.Shared.Return(message);
            return filled;
        }
        BinaryPrimitives.WriteUInt16BigEndian(message, (ushort)length);
        (_message, _messageAt, _messageEnd) = (message, 0, 2 + length);
        return filled + HandOut(buffer.Span[filled..]);
    }

    private static int Place(ReadOnlySpan<byte> payload, Span<byte> buffer, int filled)
    {
        BinaryPrimitives.WriteUInt16BigEndian(buffer[filled..], (ushort)payload.Length);
        payload.CopyTo(buffer[(filled + 2)..]);
        return filled + 2 + payload.Length;
    }

    /// <summary>Whether the far side closed (a close message): no more messages. A text message is not the tunnel's.</summary>
    private bool Ended(ValueWebSocketReceiveResult result) => result.MessageType switch
    {
        WebSocketMessageType.Close => _ended = true,
        WebSocketMessageType.Text => throw new IOException("WebSocket: a text message; a tunnel carries binary ones"),
        _ => false,
    };

    private int HandOut(Span<byte> into)
    {
        var count = Math.Min(into.Length, _messageEnd - _messageAt);
        _message.AsSpan(_messageAt, count).CopyTo(into);
        _messageAt += count;
        if (_messageAt == _messageEnd)
        {
            ArrayPool<byte>.Shared.Return(_message!);
            _message = null;
        }
        return count;
    }

    /// <summary>The WebSocket's close, then TLS's close_notify (with TLS).</summary>
    public async Task ShutdownOutputAsync()
    {
        if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
        if (_transport is SslStream tls) await tls.ShutdownAsync();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _socket.Dispose();
            // A receive left running fails with the socket: seen here, not reported as unobserved.
            _stashed?.ContinueWith(static t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously);
            _gathering.Dispose();
            if (_carry is not null) ArrayPool<byte>.Shared.Return(_carry);
            if (_message is not null) ArrayPool<byte>.Shared.Return(_message);
            _carry = _message = null;
        }
        base.Dispose(disposing);
    }

    /// <summary>
    /// The WebSocket's transport. While <see cref="Gathering"/> is set, what the WebSocket writes is kept, and it goes
    /// with the next write made while it is not. The WebSocket makes one write at a time (pings and pongs included),
    /// so this needs no lock; a ping written between two frames of a write leaves with them.
    /// </summary>
    internal sealed class GatheringStream(Stream inner) : DuplexStream
    {
        private byte[] _kept = [];
        private int _count;
        private volatile bool _gathering;

        public Stream Inner => inner;

        public bool Gathering { set => _gathering = value; }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
        {
            if (!_gathering && _count == 0) return inner.WriteAsync(data, cancellationToken);
            Keep(data.Span);
            if (_gathering) return ValueTask.CompletedTask;
            // The WebSocket awaits this write before its next one: the buffer is not touched meanwhile.
            var count = _count;
            _count = 0;
            return inner.WriteAsync(_kept.AsMemory(0, count), cancellationToken);
        }

        private void Keep(ReadOnlySpan<byte> data)
        {
            if (_count + data.Length > _kept.Length)
            {
                var grown = new byte[Math.Max(_count + data.Length, Math.Max(4096, _kept.Length * 2))];
                _kept.AsSpan(0, _count).CopyTo(grown);
                _kept = grown;
            }
            data.CopyTo(_kept.AsSpan(_count));
            _count += data.Length;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

        public override Task FlushAsync(CancellationToken cancellationToken) => _gathering ? Task.CompletedTask : inner.FlushAsync(cancellationToken);

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
