using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace TunnelActors.Tools.Bench.Load;

/// <summary>Hands a reply to the load generator together with the socket it came in on and when.</summary>
internal delegate void DatagramHandler(Peer socketOwner, ReadOnlySpan<byte> datagram, SocketAddress source, long receivedAt);

/// <summary>
/// Reads each peer's socket until it is closed: a thread of its own per socket, blocked in its receive and woken
/// straight by the kernel (no event loop, no failed try per datagram: about a quarter more round trips per second
/// for one peer), or, for many peers, an asynchronous loop per socket.
/// </summary>
internal sealed class ReceiveLoops(int datagramSize, AddressFamily family, DatagramHandler handle, Func<bool> stopping)
{
    private const int FairnessBurst = 64;

    public Task Start(Peer peer, bool ownThread) => ownThread
        ? Task.Factory.StartNew(() => Blocking(peer), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)
        // On the thread pool whatever the caller's synchronization context (a test runner's few threads would starve it).
        : Task.Run(() => AsynchronousAsync(peer));

    private void Blocking(Peer peer)
    {
        var buffer = new byte[datagramSize + 1]; // one byte more: a longer datagram shows as a wrong length
        var source = new SocketAddress(family);
        while (true)
        {
            int length;
            try
            {
                length = peer.Socket.ReceiveFrom(buffer, SocketFlags.None, source);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (stopping()) return;
                continue; // an ICMP error reported on the socket
            }
            handle(peer, buffer.AsSpan(0, length), source, Stopwatch.GetTimestamp());
        }
    }

    private async Task AsynchronousAsync(Peer peer)
    {
        var buffer = new byte[datagramSize + 1];
        var source = new SocketAddress(family);
        var inARow = 0;
        while (true)
        {
            int length;
            try
            {
                var receive = peer.Socket.ReceiveFromAsync(buffer, SocketFlags.None, source);
                // A socket whose replies keep coming completes every receive at once and would keep its thread
                // forever; now and then let the other sockets' loops run.
                if (!receive.IsCompleted) inARow = 0;
                else if (++inARow == FairnessBurst)
                {
                    inARow = 0;
                    await Task.Yield();
                }
                length = await receive.ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (stopping()) return;
                continue;
            }
            handle(peer, buffer.AsSpan(0, length), source, Stopwatch.GetTimestamp());
        }
    }
}
