using System.Text.Json;
using System.Text.RegularExpressions;
using TunnelActors.Tests.Support;
using Xunit;

namespace TunnelActors.Tests.Bench;

/// <summary><c>tunnelactors bench echo</c> and <c>bench load</c> as real processes.</summary>
public sealed class BenchCommandTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static readonly string[] JsonFields =
    [
        "tool", "target", "size", "peers", "rate", "window", "duration_s", "warmup_s", "sent", "received", "lost", "loss_pct",
        "duplicated", "reordered", "corrupted", "misdelivered", "stale", "tx_fail", "sent_all", "received_all", "tx_pps", "rx_pps",
        "mbps", "rtt_stamp", "lat_us",
    ];

    [Fact]
    public async Task Load_prints_one_json_line_and_the_echo_prints_its_totals_on_SIGTERM_and_exits_0()
    {
        using var echo = ProgramProcess.Start("bench", "echo", "--bind", "127.0.0.1:0");
        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        echo.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { } line && Regex.Match(line, @"listening on (127\.0\.0\.1:\d+)") is { Success: true } match)
                listening.TrySetResult(match.Groups[1].Value);
        };
        echo.BeginErrorReadLine();
        var echoStdout = echo.StandardOutput.ReadToEndAsync();
        try
        {
            var target = await listening.Task.WaitAsync(Timeout);
            var load = await ProgramProcess.RunAsync(Timeout, "bench", "load", "--target", target, "--peers", "2", "--size", "100",
                "--duration", "0.3", "--warmup", "0.1", "--json");

            Assert.True(load.ExitCode == 0, load.Stderr);
            var line = Assert.Single(load.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            foreach (var field in JsonFields) Assert.True(root.TryGetProperty(field, out _), $"no '{field}' in {line}");
            foreach (var field in new[] { "p50", "p90", "p99", "p999", "max", "mean" })
                Assert.True(root.GetProperty("lat_us").TryGetProperty(field, out _), $"no lat_us.{field} in {line}");
            Assert.Equal("tunnelactors-bench", root.GetProperty("tool").GetString());
            Assert.Equal("max", root.GetProperty("rate").GetString());
            Assert.Equal(target, root.GetProperty("target").GetString());
            var sent = root.GetProperty("sent").GetInt64();
            Assert.True(sent > 0);
            Assert.Equal(sent, root.GetProperty("received").GetInt64());
            Assert.Contains("misdelivered 0", load.Stderr); // the human summary moves to stderr

            await Command.SignalAsync(echo, "TERM");
            using var cancel = new CancellationTokenSource(Timeout);
            await echo.WaitForExitAsync(cancel.Token);
            Assert.Equal(0, echo.ExitCode);
            var sentAll = root.GetProperty("sent_all").GetInt64();
            Assert.Contains($"received {sentAll} sent {sentAll} ", await echoStdout);
        }
        finally
        {
            if (!echo.HasExited) echo.Kill();
        }
    }

    [Theory]
    [InlineData("load", "--target", "127.0.0.1:9", "--size", "35")]
    [InlineData("load", "--target", "127.0.0.1:9", "--rate", "fast")]
    [InlineData("load", "--target", "127.0.0.1")]
    [InlineData("echo", "--bind", "127.0.0.1:0", "--drop-every", "-1")]
    public async Task Bad_arguments_are_refused_before_anything_runs(params string[] args)
    {
        var outcome = await ProgramProcess.RunAsync(Timeout, ["bench", .. args]);
        Assert.NotEqual(0, outcome.ExitCode);
        Assert.False(string.IsNullOrWhiteSpace(outcome.Stderr));
    }
}
