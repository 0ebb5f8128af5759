using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors.Configuration;
using TunnelActors.Flow;
using TunnelActors.Framing;

namespace TunnelActors.Tests.Framing;

/// <summary>The send queue on its own, with an explicit clock (milliseconds).</summary>
public sealed class SendBufferTests
{
    private static TcpTunnelSettings Tcp(string maxQueueDelay = "100ms", string maxWrite = "64k", string limit = "256k") =>
        Sides.Configure(("tunnel.udp.listen", "127.0.0.1:1"), ("tunnel.tcp.listen", "127.0.0.1:2"),
            ("tunnel.tcp.max-queue-delay", maxQueueDelay), ("tunnel.tcp.max-write", maxWrite),
            ("tunnel.tcp.send-queue-limit", limit)).Settings.Tcp;

    private static SendBuffer Buffer(TcpTunnelSettings tcp, ByteBudget budget) => new(tcp.SendQueueLimit, tcp.MaxWrite, tcp.MaxQueueDelay, budget);

    private static byte[] Payload(int length, byte value) => Enumerable.Repeat(value, length).ToArray();

    [Fact]
    public void Frames_queued_during_a_write_coalesce_into_the_next_one()
    {
        var buffer = Buffer(Tcp(), new ByteBudget(long.MaxValue));
        Assert.True(buffer.TryAppend([1], now: 0));
        var first = buffer.TakeForWrite(now: 0, out _)!.Value;
        Assert.Equal(Frames.Of([1]), first.Data.ToArray());

        Assert.True(buffer.TryAppend([2, 2], now: 1));
        Assert.True(buffer.TryAppend([], now: 1));
        buffer.Written();
        var second = buffer.TakeForWrite(now: 2, out var stale)!.Value;
        Assert.Equal(0, stale);
        Assert.Equal(Frames.Of([2, 2], []), second.Data.ToArray());
        Assert.Equal((2, 2), (second.Datagrams, second.PayloadBytes));
        // The first write's bytes were not touched by the second (its buffer was not reused while in flight).
        Assert.Equal(Frames.Of([1]), first.Data.ToArray());
    }

    [Fact]
    public void Frames_older_than_the_max_queue_delay_are_dropped_not_sent()
    {
        var buffer = Buffer(Tcp(maxQueueDelay: "100ms"), new ByteBudget(long.MaxValue));
        buffer.TryAppend([1], now: 0);
        buffer.TryAppend([2], now: 50);
        buffer.TryAppend([3], now: 150);

        var write = buffer.TakeForWrite(now: 170, out var stale)!.Value;
        Assert.Equal(2, stale);
        Assert.Equal(Frames.Of([3]), write.Data.ToArray());
    }

    [Fact]
    public void A_full_queue_makes_room_by_dropping_what_is_stale()
    {
        var buffer = Buffer(Tcp(maxQueueDelay: "100ms", limit: "65537"), new ByteBudget(long.MaxValue));
        buffer.TryAppend(new byte[40_000], now: 0);
        Assert.False(buffer.HasRoomFor(30_002));
        Assert.Equal(0, buffer.DropStale(now: 100));
        Assert.Equal(1, buffer.DropStale(now: 101));
        Assert.True(buffer.HasRoomFor(30_002));
        Assert.Null(buffer.TakeForWrite(now: 101, out _));
    }

    [Fact]
    public void A_write_takes_whole_frames_up_to_max_write_and_the_rest_stays_queued_and_droppable()
    {
        var buffer = Buffer(Tcp(maxQueueDelay: "100ms", maxWrite: "3000"), new ByteBudget(long.MaxValue));
        for (var i = 0; i < 3; i++) buffer.TryAppend(Payload(1200, (byte)i), now: i * 40);

        var first = buffer.TakeForWrite(now: 100, out _)!.Value;
        Assert.Equal(Frames.Of(Payload(1200, 0), Payload(1200, 1)), first.Data.ToArray());
        Assert.Equal(2, first.Datagrams);
        buffer.TryAppend(Payload(1200, 3), now: 120);
        buffer.TryAppend(Payload(1200, 4), now: 160);
        buffer.Written();

        // Frame 2 was queued at 80 ms: stale at 190 ms; frames 3 and 4 (120, 160 ms) are not.
        var second = buffer.TakeForWrite(now: 190, out var stale)!.Value;
        Assert.Equal(1, stale);
        Assert.Equal(Frames.Of(Payload(1200, 3), Payload(1200, 4)), second.Data.ToArray());
    }

    [Fact]
    public void The_side_budget_is_taken_while_frames_wait_and_given_back_when_written_or_discarded()
    {
        var budget = new ByteBudget(2500);
        var buffer = Buffer(Tcp(), budget);
        Assert.True(buffer.TryAppend(new byte[1200], now: 0));
        Assert.True(buffer.TryAppend(new byte[1200], now: 0));
        Assert.False(buffer.TryAppend(new byte[1200], now: 0));
        Assert.Equal(2404, budget.Used);

        buffer.TakeForWrite(now: 0, out _);
        Assert.True(buffer.TryAppend(new byte[10], now: 0));
        buffer.Written();
        Assert.Equal(12, budget.Used);
        buffer.Discard();
        Assert.Equal(0, budget.Used);
    }
}
