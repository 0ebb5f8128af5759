using System.Buffers;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using TunnelActors.Configuration;

namespace TunnelActors.Carriers;

/// <summary>
/// What a listening side does with a connection that is not a proven tunnel connection: with <c>tunnel.http-fallback</c>
/// it hands it, byte for byte, to the website (what was read from it first, then both ways until either side ends it,
/// it idles for <c>idle-timeout</c> or the side stops; at most <c>max-connections</c> at once); without one it answers as
/// a web server answers a path it does not have (a WebSocket listener), or closes it.
/// </summary>
internal sealed class FallbackSite(HttpFallbackSettings settings, CancellationToken stopped)
{
    private const int ChunkSize = 16 * 1024;
    private int _active;

    /// <summary>Takes the connection (its stream and socket, which it closes): to <paramref name="site"/> with what was read from it, or <paramref name="answer"/> then closed.</summary>
    public static Task TakeAsync(FallbackSite? site, Stream transport, Socket socket, ReadOnlyMemory<byte> read, byte[]? answer, TimeSpan answerTimeout) =>
        site is not null ? site.HandAsync(transport, socket, read) : AnswerAsync(transport, socket, answer, answerTimeout);

    private static async Task AnswerAsync(Stream transport, Socket socket, byte[]? answer, TimeSpan timeout)
    {
        try
        {
            if (answer is not null)
            {
                using var deadline = new CancellationTokenSource(timeout);
                await transport.WriteAsync(answer, deadline.Token);
                await transport.FlushAsync(deadline.Token);
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
        finally
        {
            await transport.DisposeAsync();
            socket.Dispose();
        }
    }

    private async Task HandAsync(Stream client, Socket clientSocket, ReadOnlyMemory<byte> read)
    {
        var address = settings.Address;
        using var site = address is IPEndPoint ip ? new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp) : new Socket(SocketType.Stream, ProtocolType.Tcp);
        using var activity = CancellationTokenSource.CreateLinkedTokenSource(stopped);
        var counted = Interlocked.Increment(ref _active) <= settings.MaxConnections;
        try
        {
            if (!counted) return;
            activity.CancelAfter(settings.IdleTimeout);
            await site.ConnectAsync(address, activity.Token);
            site.NoDelay = true;
            await using var siteStream = new NetworkStream(site, ownsSocket: false);
            if (!read.IsEmpty) await siteStream.WriteAsync(read, activity.Token);
            await Task.WhenAll(
                PumpAsync(client, siteStream, () =>
                {
                    site.Shutdown(SocketShutdown.Send);
                    return Task.CompletedTask;
                }, activity),
                PumpAsync(siteStream, client, async () =>
                {
                    if (client is SslStream tls) await tls.ShutdownAsync();
                    clientSocket.Shutdown(SocketShutdown.Send);
                }, activity));
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
        finally
        {
            Interlocked.Decrement(ref _active);
            await client.DisposeAsync();
            clientSocket.Dispose();
        }
    }

    /// <summary>Copies one way until its end, which it passes on; a failure, or no byte either way for idle-timeout, ends both ways.</summary>
    private async Task PumpAsync(Stream from, Stream to, Func<Task> endOutput, CancellationTokenSource activity)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
        try
        {
            while (true)
            {
                var count = await from.ReadAsync(buffer.AsMemory(0, ChunkSize), activity.Token);
                if (count == 0)
                {
                    await endOutput();
                    return;
                }
                activity.CancelAfter(settings.IdleTimeout);
                await to.WriteAsync(buffer.AsMemory(0, count), activity.Token);
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // One way failing ends the other.
            await activity.CancelAsync();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

/// <summary>A listener's connection that, ended before it carried a tunnel, can be handed over instead of closed.</summary>
internal interface IRefusable
{
    /// <summary>Whether it was handed over (to the website, or to a web server's answer); the taker then owns the socket.</summary>
    bool TryRefuse();
}

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
