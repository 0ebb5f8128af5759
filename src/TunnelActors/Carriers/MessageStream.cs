using System.Buffers;
using System.Buffers.Binary;
using System.Net.Security;
using System.Security.Cryptography;
using static TunnelActors.Carriers.WebSocketFrames;

namespace TunnelActors.Carriers;

/// <summary>
/// A WebSocket (RFC 6455, after the upgrade) seen as the byte stream of RFC 4571 frames a tunnel connection carries, so
/// the stage above does not know it runs on one: each frame written goes as one binary message (its payload: one
/// datagram), each message received comes back as one frame. Both are converted in passing, a frame's header as soon
/// as its length is known, so a write's frames leave in one write to the transport (a TLS record, a system call) and
/// a read hands out every message the transport's read brought. A message larger than a datagram, a text message or
/// a frame the protocol forbids ends the connection. Pings are answered; an idle connection is pinged every
/// <c>websocket.ping-interval</c>, so proxies in between keep it.
/// </summary>
internal sealed class MessageStream : DuplexStream, IOutputShutdown
{
    private const int MaxPayload = ushort.MaxValue;
    private const int InputSize = 16 * 1024;
    private const int MaskBlock = 256;

    private readonly Stream _transport;
    // The dialing end masks what it sends and gets unmasked frames; the listening end the other way round.
    private readonly bool _client;
    private readonly SemaphoreSlim _writing = new(1, 1);
    private readonly Timer? _pinger;

    // Writing: the payload bytes of the current frame still to come, where its mask is, and a length split across writes.
    private int _sendLeft;
    private uint _sendMask;
    private int _sendMasked;
    private int _lengthByte = -1;
    private volatile bool _wrote;
    private bool _closeSent;
    // A pong due while a data frame was unfinished: it follows that frame.
    private byte[]? _deferredPong;
    private readonly byte[] _masks = [];
    private int _maskAt;

    // Reading: what the transport gave and is not handed out yet.
    private readonly byte[] _input;
    private int _inputAt;
    private int _inputEnd;
    // The data frame being handed out: payload bytes left, its mask and how far it got.
    private int _receiveLeft;
    private bool _receiveMasked;
    private uint _receiveMask;
    private int _receiveOffset;
    // A message in fragments, assembled (after its 2-byte length) until its last one; then handed out from _messageAt.
    private byte[]? _message;
    private int _messageEnd;
    private int _messageAt = -1;
    // The fragment being received is its message's last: once its payload is in, the message is handed out.
    private bool _finalFragment;
    private byte[]? _pong;
    private bool _ended;

    /// <param name="transport">The connection after the upgrade (inside TLS with <c>wss://</c>).</param>
    /// <param name="client">The dialing end: masks its frames (RFC 6455 5.3).</param>
    /// <param name="pingInterval">How long the connection may send nothing before a ping goes; zero = never.</param>
    /// <param name="readFirst">Bytes read with the upgrade's head that belong to the WebSocket.</param>
    public MessageStream(Stream transport, bool client, TimeSpan pingInterval, ReadOnlySpan<byte> readFirst = default)
    {
        _transport = transport;
        _client = client;
        _input = new byte[Math.Max(InputSize, readFirst.Length)];
        readFirst.CopyTo(_input);
        _inputEnd = readFirst.Length;
        if (client)
        {
            _masks = new byte[MaskBlock];
            _maskAt = MaskBlock;
        }
        if (pingInterval > TimeSpan.Zero) _pinger = new Timer(static s => ((MessageStream)s!).PingIfIdle(), this, pingInterval, pingInterval);
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        if (data.IsEmpty) return;
        // An RFC 4571 frame of 2 + n bytes becomes a message of at most n + 6 (n < 126) or n + 8 bytes: within 3 × (an
        // empty one: 2 → 6), plus the header of a frame whose length came split across writes, and a pong that waited.
        var output = ArrayPool<byte>.Shared.Rent(3 * data.Length + 2 * MaxWrittenHeader + MaxControlPayload);
        try
        {
            await _writing.WaitAsync(cancellationToken);
            try
            {
                if (_closeSent) throw new IOException("WebSocket: write after the close");
                var count = Encode(data.Span, output);
                if (_deferredPong is { } pong && _sendLeft == 0 && _lengthByte < 0)
                {
                    pong.CopyTo(output, count);
                    count += pong.Length;
                    _deferredPong = null;
                }
                _wrote = true;
                await _transport.WriteAsync(output.AsMemory(0, count), cancellationToken);
            }
            finally
            {
                _writing.Release();
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(output);
        }
    }

    /// <summary>RFC 4571 frames, in any cut, as binary messages: a message's header goes as soon as its frame's length is here.</summary>
    private int Encode(ReadOnlySpan<byte> frames, Span<byte> output)
    {
        var written = 0;
        while (!frames.IsEmpty)
        {
            if (_sendLeft > 0)
            {
                var take = Math.Min(_sendLeft, frames.Length);
                var payload = output.Slice(written, take);
                frames[..take].CopyTo(payload);
                if (_client) Apply(payload, _sendMask, _sendMasked);
                _sendMasked += take;
                _sendLeft -= take;
                written += take;
                frames = frames[take..];
                continue;
            }
            int length;
            if (_lengthByte >= 0)
            {
                length = (_lengthByte << 8) | frames[0];
                _lengthByte = -1;
                frames = frames[1..];
            }
            else if (frames.Length >= 2)
            {
                length = BinaryPrimitives.ReadUInt16BigEndian(frames);
                frames = frames[2..];
            }
            else
            {
                _lengthByte = frames[0];
                break;
            }
            _sendMask = _client ? NextMask() : 0;
            _sendMasked = 0;
            _sendLeft = length;
            written += WriteHeader(output[written..], Binary, length, _client, _sendMask);
        }
        return written;
    }

    private uint NextMask()
    {
        // The key must be unpredictable (RFC 6455 10.3): from the system's generator, a block at a time.
        if (_maskAt == MaskBlock)
        {
            RandomNumberGenerator.Fill(_masks);
            _maskAt = 0;
        }
        var mask = BinaryPrimitives.ReadUInt32LittleEndian(_masks.AsSpan(_maskAt));
        _maskAt += 4;
        return mask;
    }

    /// <summary>
    /// Hands out what the messages received so far make, as RFC 4571 frames: waits for the transport only when it
    /// has nothing. Returns 0 once the far side closed (its close frame or its end of the connection).
    /// </summary>
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var filled = Produce(buffer.Span);
            if (_pong is { } pong)
            {
                _pong = null;
                await SendControlAsync(Pong, pong, cancellationToken);
                if (filled == 0) continue;
            }
            if (filled > 0 || _ended) return filled;
            if (_inputAt > 0)
            {
                _input.AsSpan(_inputAt, _inputEnd - _inputAt).CopyTo(_input);
                (_inputEnd, _inputAt) = (_inputEnd - _inputAt, 0);
            }
            var read = await _transport.ReadAsync(_input.AsMemory(_inputEnd), cancellationToken);
            if (read == 0)
            {
                _ended = true;
                return 0;
            }
            _inputEnd += read;
        }
    }

    /// <summary>What the input makes, into <paramref name="into"/>; stops when it is full, the input is used up, or a ping waits for its pong.</summary>
    private int Produce(Span<byte> into)
    {
        var filled = 0;
        while (true)
        {
            if (_messageAt >= 0)
            {
                var count = Math.Min(into.Length - filled, _messageEnd - _messageAt);
                _message.AsSpan(_messageAt, count).CopyTo(into[filled..]);
                filled += count;
                _messageAt += count;
                if (_messageAt < _messageEnd) return filled;
                ArrayPool<byte>.Shared.Return(_message!);
                (_message, _messageAt) = (null, -1);
            }
            var input = _input.AsSpan(_inputAt, _inputEnd - _inputAt);
            if (_receiveLeft > 0)
            {
                var toMessage = _message is not null;
                var room = toMessage ? _message!.Length - _messageEnd : into.Length - filled;
                var take = Math.Min(Math.Min(_receiveLeft, input.Length), room);
                if (take == 0) return filled;
                var payload = toMessage ? _message.AsSpan(_messageEnd, take) : into.Slice(filled, take);
                input[..take].CopyTo(payload);
                if (_receiveMasked) Apply(payload, _receiveMask, _receiveOffset);
                _receiveOffset += take;
                _receiveLeft -= take;
                _inputAt += take;
                if (toMessage) _messageEnd += take;
                else filled += take;
                continue;
            }
            if (_message is not null && _messageAt < 0 && _finalFragment)
            {
                BinaryPrimitives.WriteUInt16BigEndian(_message, (ushort)(_messageEnd - 2));
                _messageAt = 0;
                _finalFragment = false;
                continue;
            }
            if (_ended || _pong is not null || !TryReadHeader(input, out var header)) return filled;
            Check(header);
            if (header.IsControl)
            {
                if (input.Length < header.Size + (int)header.Length) return filled;
                var payload = input.Slice(header.Size, (int)header.Length);
                if (header.Masked) Apply(payload, header.Mask, 0);
                _inputAt += header.Size + (int)header.Length;
                if (header.Opcode == Ping) _pong = payload.ToArray();
                else if (header.Opcode == WebSocketFrames.Close) _ended = true;
                continue;
            }
            var length = (int)header.Length;
            if (header.Opcode == Binary && header.Fin)
            {
                if (into.Length - filled < 2) return filled;
                BinaryPrimitives.WriteUInt16BigEndian(into[filled..], (ushort)length);
                filled += 2;
            }
            else if (header.Opcode == Binary)
            {
                _message = ArrayPool<byte>.Shared.Rent(2 + MaxPayload);
                _messageEnd = 2;
            }
            if (_message is not null && _messageEnd - 2 + length > MaxPayload) throw TooLong();
            _finalFragment = _message is not null && header.Fin;
            _inputAt += header.Size;
            (_receiveLeft, _receiveMasked, _receiveMask, _receiveOffset) = (length, header.Masked, header.Mask, 0);
        }
    }

    /// <summary>Ends the connection on a frame this side must not take (RFC 6455 5.1–5.5), or one that is not a datagram's.</summary>
    private void Check(WebSocketFrames.Header header)
    {
        string? wrong = header switch
        {
            { Reserved: not 0 } => "a frame with reserved bits set (no extension was agreed)",
            { Masked: var masked } when masked == _client => _client ? "a masked frame from the listening end" : "an unmasked frame from the dialing end",
            { IsControl: true, Fin: false } or { IsControl: true, Length: > MaxControlPayload } => "a control frame in fragments or longer than 125 bytes",
            { Opcode: Text } => "a text message; a tunnel carries binary ones",
            { Opcode: Continuation } when _message is null => "a continuation frame without a message to continue",
            { Opcode: Binary } when _message is not null => "a new message before the last one's final fragment",
            { Opcode: not (Continuation or Binary or WebSocketFrames.Close or Ping or Pong) } => $"a frame of unknown opcode {header.Opcode}",
            _ => null,
        };
        if (wrong is not null) throw new IOException($"WebSocket: {wrong}");
        if (!header.IsControl && header.Length > MaxPayload) throw TooLong();
    }

    private static IOException TooLong() => new($"WebSocket: a message longer than {MaxPayload} bytes, the most a datagram holds");

    /// <summary>
    /// A control frame, between data frames: while a write has left one unfinished (its length or payload split across
    /// writes), a pong waits for the write that finishes it, a ping is left to the next interval, and a close goes
    /// without its frame (the stage closes only once its frames are out).
    /// </summary>
    private async Task SendControlAsync(byte opcode, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        await _writing.WaitAsync(cancellationToken);
        try
        {
            if (_closeSent) return;
            var midFrame = _sendLeft > 0 || _lengthByte >= 0;
            _closeSent = opcode == WebSocketFrames.Close;
            if (midFrame)
            {
                if (opcode == Pong) _deferredPong = ControlFrame(opcode, payload.Span);
                return;
            }
            await _transport.WriteAsync(ControlFrame(opcode, payload.Span), cancellationToken);
        }
        finally
        {
            _writing.Release();
        }
    }

    private byte[] ControlFrame(byte opcode, ReadOnlySpan<byte> payload)
    {
        var mask = _client ? NextMask() : 0;
        Span<byte> header = stackalloc byte[MaxWrittenHeader];
        var at = WriteHeader(header, opcode, payload.Length, _client, mask);
        var frame = new byte[at + payload.Length];
        header[..at].CopyTo(frame);
        payload.CopyTo(frame.AsSpan(at));
        if (_client) Apply(frame.AsSpan(at), mask, 0);
        return frame;
    }

    private void PingIfIdle()
    {
        if (_wrote)
        {
            _wrote = false;
            return;
        }
        // A failed ping is the connection failing: its reads and writes say so.
        _ = SendControlAsync(Ping, ReadOnlyMemory<byte>.Empty, CancellationToken.None).ContinueWith(static t => _ = t.Exception,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously);
    }

    /// <summary>The WebSocket's close (1000, normal closure), then TLS's close_notify (with TLS).</summary>
    public async Task ShutdownOutputAsync()
    {
        await SendControlAsync(WebSocketFrames.Close, new byte[] { 0x03, 0xE8 }, CancellationToken.None);
        if (_transport is SslStream tls) await tls.ShutdownAsync();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _pinger?.Dispose();
            _transport.Dispose();
            if (_message is not null) ArrayPool<byte>.Shared.Return(_message);
            _message = null;
        }
        base.Dispose(disposing);
    }
}
