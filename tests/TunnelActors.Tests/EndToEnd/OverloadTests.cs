using System.Buffers;
using System.Net;
using System.Net.Sockets;
using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors.Flow;
using TunnelActors.Framing;
using TunnelActors.Observability;

namespace TunnelActors.Tests.EndToEnd;

/// <summary>
/// A UDP-listen + TCP-connect side against a far side played by the test (a plain TCP listener), so that the
/// test decides when the far side writes and whether it reads.
/// </summary>
public sealed class OverloadTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_connection_whose_inbox_overflows_drops_datagrams_and_counts_them_but_never_wedges()
    {
        using var far = new TcpListener(IPAddress.Loopback, 0);
        far.Start();
        await using var side = await Sides.StartAsync("side", ("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", far.LocalEndpoint.ToString()!), ("tunnel.mailbox.connection.queue-limit", "4 KiB"),
            ("tunnel.tcp.max-queue-delay", "0"));
        using var peer = Peers.Bind(AddressFamily.InterNetwork);
        await peer.SendToAsync(Marker(0), side.UdpEndpoint);
        using var connection = await Connections.AcceptAsync(far);
        var stream = connection.GetStream();
        var frames = new FrameReader(stream);
        Assert.Equal(Marker(0), await frames.NextAsync());

        // The stage is kept busy sending a long burst of frames to the peer while the peer floods it with
        // datagrams: its inbox overflows, and acknowledgements and reads arrive in the middle of the flood.
        var writing = stream.WriteAsync(Frames.Repeat(100_000, [1])).AsTask();
        var datagram = new byte[1200];
        for (var i = 0; i < 5_000; i++) await peer.SendToAsync(datagram, side.UdpEndpoint);
        await writing;

        var counters = await side.CountersAsync();
        Assert.True(await BoundSockets.EventuallyAsync(() => counters.Dropped(DropReason.QueueFull) > 0, Wait), counters.ToString());

        // Both directions still work: a marker from the peer arrives as a frame (writes were acknowledged),
        // and a marker frame from the far side reaches the peer (reads were resumed). Each is sent again until
        // it arrives: the flood may still fill a socket buffer, which loses datagrams as UDP does.
        using var deadline = new CancellationTokenSource(Wait);
        var markerArrived = frames.UntilAsync(Marker(1), deadline.Token);
        while (!markerArrived.IsCompleted)
        {
            await peer.SendToAsync(Marker(1), side.UdpEndpoint);
            await Task.WhenAny(markerArrived, Task.Delay(200, deadline.Token));
        }
        await markerArrived;

        var reply = Frames.Of(Marker(2));
        var buffer = new byte[65536];
        while (true)
        {
            deadline.Token.ThrowIfCancellationRequested();
            await stream.WriteAsync(reply, deadline.Token);
            var length = await Peers.ReceiveAsync(peer, buffer, TimeSpan.FromMilliseconds(200), side.UdpEndpoint);
            while (length is { } received && !buffer.AsSpan(0, received).SequenceEqual(Marker(2)))
                length = await Peers.ReceiveAsync(peer, buffer, TimeSpan.FromMilliseconds(200), side.UdpEndpoint);
            if (length is not null) break;
        }
    }

    [Fact]
    public async Task Memory_stays_flat_when_the_far_side_stops_reading()
    {
        using var far = new TcpListener(IPAddress.Loopback, 0);
        far.Start();
        await using var side = await Sides.StartAsync("side", ("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", far.LocalEndpoint.ToString()!), ("tunnel.queue-memory", "8 MiB"));
        var budget = SideResources.For(side.System).Budget;
        using var peer = Peers.Bind(AddressFamily.InterNetwork);
        await peer.SendToAsync(new byte[1200], side.UdpEndpoint);
        using var connection = await Connections.AcceptAsync(far);

        var before = GC.GetTotalMemory(forceFullCollection: true);
        var datagram = new byte[1200];
        var peak = 0L;
        const int flood = 100_000; // 120 MB of datagrams
        for (var i = 0; i < flood; i++)
        {
            await peer.SendToAsync(datagram, side.UdpEndpoint);
            if (i % 1000 == 0) peak = Math.Max(peak, budget.Used);
        }
        var counters = await side.CountersAsync();
        Assert.True(await BoundSockets.EventuallyAsync(() => budget.Used < budget.Limit / 2 && counters.TotalDropped > 0, Wait,
            poll: TimeSpan.FromMilliseconds(100)), $"queued {budget.Used} B, {counters}");
        var after = GC.GetTotalMemory(forceFullCollection: true);

        Assert.True(peak <= budget.Limit, $"the side's queues held {peak} B, over their {budget.Limit} B");
        Assert.True(after - before < 32 << 20, $"the heap grew by {(after - before) >> 20} MiB while 120 MB of datagrams went nowhere");
    }

    private static byte[] Marker(byte value) => [0xEE, value, 0xEE];

    /// <summary>Reads whole frames from the far side's end of the connection.</summary>
    private sealed class FrameReader(NetworkStream stream)
    {
        private readonly ArrayBufferWriter<byte> _received = new();
        private int _consumed;

        /// <summary>Reads frames until one carries <paramref name="payload"/>.</summary>
        public async Task UntilAsync(byte[] payload, CancellationToken cancel)
        {
            while (!(await NextAsync(cancel)).AsSpan().SequenceEqual(payload)) { }
        }

        public async Task<byte[]> NextAsync(CancellationToken cancel = default)
        {
            var buffer = new byte[65536];
            while (true)
            {
                ReadOnlySpan<byte> unread = _received.WrittenSpan[_consumed..];
                var length = unread.Length;
                if (LengthPrefixedCodec.Instance.TryRead(ref unread, out var payload))
                {
                    _consumed += length - unread.Length;
                    return payload.ToArray();
                }
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                timeout.CancelAfter(Wait);
                var read = await stream.ReadAsync(buffer, timeout.Token);
                if (read == 0) throw new EndOfStreamException();
                _received.Write(buffer.AsSpan(0, read));
            }
        }
    }
}
