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
