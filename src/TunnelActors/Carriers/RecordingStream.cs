using System.Buffers;
using System.Net.Security;
using System.Net.Sockets;

namespace TunnelActors.Carriers;

/// <summary>
/// A connection of a keyed listener with a website behind it, not a WebSocket: what is read before this side's first
/// write (the far side's proof, or a browser's request) is kept, so that a connection whose proof fails goes to the
/// website from its first byte. Until then reads are made into its own buffer and run to their end even when the
/// reader gives up on one (the connection ending), so that no byte is lost between the reader and the website.
/// Keeps at most <see cref="MaxKept"/> bytes; past them it is closed as any other.
/// </summary>
internal sealed class RecordingStream(Stream inner, Socket socket, FallbackSite site) : DuplexStream, IOutputShutdown, IRefusable
{
    private const int MaxKept = 64 * 1024;
    private const int ReadSize = 16 * 1024;
    private readonly MemoryStream _kept = new();
    private Task<int>? _reading;
    // This side wrote (the proof passed), or more than MaxKept came first: nothing is kept any more.
    private bool _passing;
    private bool _handedOver;

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_passing && _reading is null) return await inner.ReadAsync(buffer, cancellationToken);
        _reading ??= ReadKeptAsync(Math.Min(buffer.Length, ReadSize));
        var count = await _reading.WaitAsync(cancellationToken);
        _reading = null;
        _kept.GetBuffer().AsSpan((int)_kept.Length - count, count).CopyTo(buffer.Span);
        if (_kept.Length > MaxKept) Pass();
        return count;
    }

    private void Pass()
    {
        _passing = true;
        _kept.SetLength(0);
        _kept.Capacity = 0;
    }

    private async Task<int> ReadKeptAsync(int size)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            var count = await inner.ReadAsync(buffer.AsMemory(0, size));
            _kept.Write(buffer.AsSpan(0, count));
            return count;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!_passing) Pass();
        return inner.WriteAsync(buffer, cancellationToken);
    }

    public bool TryRefuse()
    {
        if (_passing) return false;
        _handedOver = true;
        _ = HandOverAsync();
        return true;
    }

    /// <summary>A read still out finishes first: its bytes were never handed to the reader, and go to the website with the rest.</summary>
    private async Task HandOverAsync()
    {
        if (_reading is { } reading)
        {
            try
            {
                await reading;
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
            {
            }
        }
        await FallbackSite.TakeAsync(site, inner, socket, _kept.ToArray(), null, TimeSpan.Zero);
    }

    public async Task ShutdownOutputAsync()
    {
        if (inner is SslStream tls) await tls.ShutdownAsync();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_handedOver) inner.Dispose();
        base.Dispose(disposing);
    }
}
