namespace TunnelActors.Carriers;

/// <summary>
/// A connection whose carrier opens with the first bytes the stage writes: a keyed WebSocket, whose upgrade request
/// carries the dialer's proof and whose response carries the listener's answer. Reads hand out
/// <paramref name="readFirst"/> (the listener: the proof taken from the request), then wait for the opening; the
/// first write opens it (<paramref name="open"/>: the stream it becomes, and what it read meanwhile: the dialer, the
/// answer). A listener that ends the connection unopened, having refused the proof, calls <see cref="TryRefuse"/>.
/// <paramref name="transport"/>, what it opens on, is disposed with it unless it was opened or handed to the refusal.
/// </summary>
internal sealed class DeferredStream(
    Stream transport,
    byte[] readFirst,
    Func<ReadOnlyMemory<byte>, CancellationToken, Task<(Stream Opened, byte[] ReadNext)>> open,
    Func<Task>? refuse) : DuplexStream, IOutputShutdown, IRefusable
{
    private readonly TaskCompletionSource<Stream> _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private byte[] _pending = readFirst;
    private int _pendingAt;
    private bool _opening;
    private bool _refused;

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        if (_opening)
        {
            await (await _opened.Task.WaitAsync(cancellationToken)).WriteAsync(data, cancellationToken);
            return;
        }
        _opening = true;
        try
        {
            var (opened, readNext) = await open(data, cancellationToken);
            if (_pendingAt == _pending.Length) (_pending, _pendingAt) = (readNext, 0);
            else _pending = [.. _pending.AsSpan(_pendingAt), .. readNext];
            // Ended meanwhile: nobody else will close it.
            if (!_opened.TrySetResult(opened)) await opened.DisposeAsync();
        }
        catch (Exception e)
        {
            // The writer hears it; a read waiting for the opening too, or nobody.
            _opened.TrySetException(e);
            _ = _opened.Task.Exception;
            throw;
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_pendingAt == _pending.Length)
        {
            var opened = await _opened.Task.WaitAsync(cancellationToken);
            if (_pendingAt == _pending.Length) return await opened.ReadAsync(buffer, cancellationToken);
        }
        var count = Math.Min(buffer.Length, _pending.Length - _pendingAt);
        _pending.AsMemory(_pendingAt, count).CopyTo(buffer);
        _pendingAt += count;
        return count;
    }

    public bool TryRefuse()
    {
        if (_opening || refuse is null) return false;
        _refused = true;
        _ = refuse();
        return true;
    }

    public async Task ShutdownOutputAsync()
    {
        if (_opened.Task.IsCompletedSuccessfully && _opened.Task.Result is IOutputShutdown opened) await opened.ShutdownOutputAsync();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _opened.TrySetCanceled();
            if (_opened.Task.IsCompletedSuccessfully) _opened.Task.Result.Dispose();
            else if (!_refused) transport.Dispose();
        }
        base.Dispose(disposing);
    }
}
