using System.Net;
using Xunit;
using TunnelActors.Tools.Bench.Echo;
using TunnelActors.Tools.Bench.Load;

namespace TunnelActors.Tests.Bench;

/// <summary>The load generator against an echo that injects faults at exact intervals: it must count exactly those.</summary>
public sealed class FaultCountingTests
{
    public FaultCountingTests() => ThreadPoolHeadroom.Ensure();

    private static readonly IPEndPoint AnyLoopbackPort = new(IPAddress.Loopback, 0);

    [Fact]
    public async Task Every_injected_drop_duplicate_corruption_and_swap_is_counted_exactly()
    {
        // Intervals whose pairwise least common multiples (2,550 and up) exceed the datagrams sent, so no datagram
        // gets two faults and every count is exact.
        const int drop = 50, duplicate = 51, corrupt = 53, swap = 59;
        var echo = new EchoServer(new EchoOptions(AnyLoopbackPort, DropEvery: drop, DuplicateEvery: duplicate, CorruptEvery: corrupt, SwapEvery: swap));
        LoadReport report;
        EchoTotals totals;
        using (echo)
        {
            report = await LoadGenerator.RunAsync(new LoadOptions(echo.LocalEndPoint)
            {
                Rate = 4000, Duration = TimeSpan.FromSeconds(0.5), Warmup = TimeSpan.Zero, Drain = TimeSpan.FromMilliseconds(300),
            });
            totals = echo.Stop();
        }

        Assert.InRange(report.Sent, 1500, 2500);
        Assert.Equal(report.Sent, totals.Received);
        Assert.Equal(totals.Received / drop, totals.Dropped);
        Assert.Equal(totals.Received / corrupt, totals.Corrupted);
        var held = totals.Holding ? 1 : 0;

        Assert.Equal(totals.Dropped + totals.Corrupted + held, report.Lost); // a corrupted reply is no reply
        Assert.Equal(totals.Duplicated, report.Duplicated);
        Assert.Equal(totals.Corrupted, report.Corrupted);
        Assert.Equal(totals.Corrupted, report.Arrivals.BadChecksum);
        Assert.Equal(totals.Delayed - held, report.Reordered);
        Assert.True(totals.Duplicated > 0 && totals.Delayed > 0, "every kind of fault was injected");
        Assert.Equal(0, report.Misdelivered);
    }

    [Fact]
    public async Task The_closed_loop_writes_off_dropped_datagrams_and_counts_them_lost()
    {
        var echo = new EchoServer(new EchoOptions(AnyLoopbackPort, DropEvery: 20));
        LoadReport report;
        EchoTotals totals;
        using (echo)
        {
            report = await LoadGenerator.RunAsync(new LoadOptions(echo.LocalEndPoint)
            {
                Peers = 4, Window = 16, Duration = TimeSpan.FromSeconds(0.3), Warmup = TimeSpan.Zero,
            });
            totals = echo.Stop();
        }

        Assert.True(report.Sent > 1000, $"the closed loop kept going despite losing every twentieth datagram: {report.Sent} sent");
        Assert.Equal(report.Sent, totals.Received);
        Assert.Equal(totals.Dropped, report.Lost);
        Assert.Equal(report.Sent - totals.Dropped, report.Received);
        Assert.True(report.WindowExpired >= totals.Dropped);
    }

    [Fact]
    public async Task A_lost_datagram_frees_its_window_slot_once_newer_replies_overtake_it_long_before_the_timeout()
    {
        var echo = new EchoServer(new EchoOptions(AnyLoopbackPort, DropEvery: 20));
        LoadReport report;
        using (echo)
        {
            report = await LoadGenerator.RunAsync(new LoadOptions(echo.LocalEndPoint)
            {
                Window = 32, Timeout = TimeSpan.FromMinutes(1), Duration = TimeSpan.FromSeconds(0.3), Warmup = TimeSpan.Zero,
                Drain = TimeSpan.FromMilliseconds(200),
            });
            echo.Stop();
        }

        // Without the write-off, 32 losses would fill the window for a minute; the loop goes on instead.
        Assert.True(report.Sent > 1000, $"{report.Sent} sent");
        // Every loss is written off, but the last few, which no newer reply overtook before the end.
        Assert.InRange(report.WindowExpired, report.Sent / 20 - 10, report.Sent / 20);
    }

    [Fact]
    public async Task A_clean_path_with_many_peers_loses_misdelivers_and_corrupts_nothing()
    {
        using var echo = new EchoServer(new EchoOptions(AnyLoopbackPort));
        var report = await LoadGenerator.RunAsync(new LoadOptions(echo.LocalEndPoint)
        {
            Peers = 50, Window = 2, Size = 1200, Duration = TimeSpan.FromSeconds(0.3), Warmup = TimeSpan.FromSeconds(0.1),
        });

        Assert.True(report.Received > 1000, $"{report.Received} received");
        Assert.Equal(report.Sent, report.Received);
        Assert.Equal(0, report.Lost + report.Duplicated + report.Corrupted + report.Misdelivered + report.Arrivals.Stale);
        Assert.True(report.SentAll > report.Sent, "warm-up datagrams are not counted");
        Assert.InRange(report.RttMicroseconds.P50, 1, report.RttMicroseconds.Max);
    }
}
