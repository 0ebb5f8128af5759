using System.Net;
using Xunit;
using TunnelActors.Tools.Bench.Echo;
using TunnelActors.Tools.Bench.Load;

namespace TunnelActors.Tests.Bench;

public sealed class OpenLoopTests
{
    public OpenLoopTests() => ThreadPoolHeadroom.Ensure();

    [Theory]
    [InlineData(1)]
    [InlineData(100)]
    public async Task The_open_loop_sends_at_the_given_rate_spread_over_all_peers(int peers)
    {
        using var echo = new EchoServer(new EchoOptions(new IPEndPoint(IPAddress.Loopback, 0)));
        var report = await LoadGenerator.RunAsync(new LoadOptions(echo.LocalEndPoint)
        {
            Peers = peers, Rate = 5000, Duration = TimeSpan.FromSeconds(0.4), Warmup = TimeSpan.FromSeconds(0.1),
        });

        Assert.InRange(report.TxPerSecond, 4900, 5100);
        Assert.Equal(report.Sent, report.Received);
        Assert.Equal(0, report.TxFail + report.Misdelivered);
        Assert.True(report.SentAll >= report.Sent + 400, "the warm-up sent at the same rate");
    }
}
