using System.Buffers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace TunnelActors.Carriers;

/// <summary>
/// A connected socket as a stream, as <see cref="NetworkStream"/> is (it does not own the socket), except for a
/// zero-byte read once <see cref="ReadAhead"/> is on. <see cref="System.Net.Security.SslStream"/> makes one before
/// every TLS record it waits for, and .NET answers it on Linux with one-byte <c>MSG_PEEK</c> receives (one that finds
/// nothing, one after the wake-up) before the real receive. Here the zero-byte read is itself the receive, into a
/// buffer of this stream's own from which the next reads are served: the peeks go. Off until the carrier is open
/// (TLS's handshake, the WebSocket's upgrade), so that a connection that never gets that far holds no buffer while it
/// waits: a flood of half-open connections stays small.
/// </summary>
internal sealed class SocketStream(Socket socket) : DuplexStream
{
    /// <summary>A TLS record's plaintext (a record is at most 256 B more, which the next read takes).</summary>
    private const int AheadSize = 16 * 1024;

    private byte[]? _ahead;
    private int _aheadAt;
    private int _aheadEnd;
    private bool _ended;

    public bool ReadAhead { get; set; }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_aheadAt < _aheadEnd) return new ValueTask<int>(TakeAhead(buffer.Span));
        if (_ended) return new ValueTask<int>(0);
        if (buffer.IsEmpty && ReadAhead) return ReceiveAheadAsync(cancellationToken);
        return ReceiveAsync(buffer, cancellationToken);
    }

    private int TakeAhead(Span<byte> into)
    {
        var count = Math.Min(into.Length, _aheadEnd - _aheadAt);
        _ahead.AsSpan(_aheadAt, count).CopyTo(into);
        _aheadAt += count;
        if (_aheadAt == _aheadEnd)
        {
            (_aheadAt, _aheadEnd) = (0, 0);
            ReturnAhead();
        }
        return count;
    }

    /// <summary>Waits for data the way a zero-byte read does (returns 0 with data at hand, or at the end), having read it.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReceiveAheadAsync(CancellationToken cancellationToken)
    {
        var ahead = ArrayPool<byte>.Shared.Rent(AheadSize);
        int count;
        try
        {
            count = await socket.ReceiveAsync(ahead, SocketFlags.None, cancellationToken);
        }
        catch (SocketException e)
        {
            ArrayPool<byte>.Shared.Return(ahead);
            throw new IOException($"Unable to read data from the transport connection: {e.Message}.", e);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(ahead);
            throw;
        }
        if (count == 0)
        {
            ArrayPool<byte>.Shared.Return(ahead);
            _ended = true;
            return 0;
        }
        (_ahead, _aheadAt, _aheadEnd) = (ahead, 0, count);
        return 0;
    }

    private async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        try
        {
            return await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
        }
        catch (SocketException e)
        {
            throw new IOException($"Unable to read data from the transport connection: {e.Message}.", e);
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            while (!buffer.IsEmpty)
            {
                var sent = await socket.SendAsync(buffer, SocketFlags.None, cancellationToken);
                buffer = buffer[sent..];
            }
        }
        catch (SocketException e)
        {
            throw new IOException($"Unable to write data to the transport connection: {e.Message}.", e);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) ReturnAhead();
        base.Dispose(disposing);
    }

    // The connection's end may come from another thread than a read's continuation: the buffer goes back once.
    private void ReturnAhead()
    {
        if (Interlocked.Exchange(ref _ahead, null) is { } ahead) ArrayPool<byte>.Shared.Return(ahead);
    }
}
