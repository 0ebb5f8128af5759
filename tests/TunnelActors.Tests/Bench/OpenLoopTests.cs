using System.Diagnostics;
using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors.Tools.Bench.Load;

namespace TunnelActors.Tests.Bench;

public sealed class OpenLoopTests
{
    public OpenLoopTests() => ThreadPoolHeadroom.Ensure();

    /// <summary>
    /// The schedule, not the machine, sets what is sent: datagram k is due k / rate after the start, and whatever is due
    /// within a phase is sent in that phase, however late the driver wakes. So the counts are exact, and no datagram
    /// arrives before it was due (lower bounds on time, which a slow machine cannot break).
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(100)]
    public async Task The_open_loop_sends_what_is_due_at_the_given_rate_never_early_spread_over_all_peers(int peers)
    {
        const int rate = 5000;
        using var echo = new UdpTarget();
        var before = Stopwatch.GetTimestamp();
        var report = await LoadGenerator.RunAsync(new LoadOptions(echo.LocalEndPoint)
        {
            Peers = peers, Rate = rate, Duration = TimeSpan.FromSeconds(0.4), Warmup = TimeSpan.FromSeconds(0.1),
        });

        // 0.4 s at 5,000 a second measured, 0.1 s of warm-up before it (±1: where a due time falls on a phase's edge).
        Assert.InRange(report.Sent, 1999, 2001);
        Assert.InRange(report.SentAll - report.Sent, 499, 501);
        Assert.Equal(report.Sent, report.Received);
        Assert.Equal(0, report.TxFail + report.Misdelivered);

        var arrivals = echo.Arrivals.Select(a => a.Timestamp).Order().ToList();
        Assert.Equal(report.SentAll, arrivals.Count);
        for (var k = 0; k < arrivals.Count; k++)
        {
            // Of any k + 1 datagrams one is number k or later, due no sooner than k / rate after the start.
            var due = before + (long)(k * (double)Stopwatch.Frequency / rate);
            Assert.True(arrivals[k] >= due, $"datagram {k} arrived {Stopwatch.GetElapsedTime(arrivals[k], due).TotalMilliseconds:0.000} ms before it was due");
        }
        // In turn over the peers: each sent its share.
        Assert.Equal(peers, echo.Sources.Count);
        Assert.All(echo.Sources.Values, sent => Assert.InRange(sent, report.SentAll / peers, report.SentAll / peers + 1));
    }
}
