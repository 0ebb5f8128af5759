using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting.Systemd;
using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors.Hosting;

namespace TunnelActors.Tests.Hosting;

/// <summary>
/// The sd_notify protocol as a <c>Type=notify</c> unit sees it, from a real <c>run</c> process: the test plays
/// systemd's side of <c>NOTIFY_SOCKET</c> with a Unix datagram socket of its own.
/// </summary>
public sealed class ServiceNotificationTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Ready_comes_after_every_socket_is_bound_then_watchdog_pings_then_stopping()
    {
        using var systemd = new NotifySocket();
        var side = SideProcess.StartWith(new Dictionary<string, string>
        {
            ["NOTIFY_SOCKET"] = systemd.Path,
            ["WATCHDOG_USEC"] = "400000",
        }, "--udp-listen", "127.0.0.1:0", "--tcp-listen", "127.0.0.1:0", "--no-auth", "--log-format", "journal");
        await using (side)
        {
            var ready = await systemd.NextAsync(Wait);
            Assert.StartsWith("READY=1\nSTATUS=relaying: ", ready);
            // At READY both sockets are already bound: the status names them, and each takes traffic now.
            var tcp = Endpoint(ready, "tcp");
            var udp = Endpoint(ready, "udp");
            using (var client = new TcpClient()) await client.ConnectAsync(tcp).WaitAsync(Wait);
            Assert.Equal(udp.Port, await side.UdpPortAsync());

            for (var ping = 0; ping < 3; ping++)
                Assert.Equal("WATCHDOG=1", await systemd.NextAsync(Wait));

            await side.StopAsync();
            Assert.Equal(0, side.ExitCode);
            string stopping;
            do stopping = await systemd.NextAsync(Wait); while (stopping == "WATCHDOG=1");
            Assert.Equal("STOPPING=1\nSTATUS=stopping", stopping);

            // The journal format: no timestamps, each line led by its syslog priority.
            var lines = side.Log.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Contains(lines, l => l.StartsWith("<6>INF Listening for UDP on 127.0.0.1:", StringComparison.Ordinal));
            Assert.All(lines.Where(l => l.StartsWith('<')), l => Assert.Matches(@"^<[2-7]>(VRB|DBG|INF|WRN|ERR|FTL) ", l));
            Assert.DoesNotContain(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^\d\d:\d\d:\d\d"));
        }
    }

    [Fact]
    public async Task A_side_that_cannot_bind_is_never_ready_and_says_why_in_its_status()
    {
        using var taken = BoundSockets.TakenTcpPort();
        using var systemd = new NotifySocket();

        var outcome = await ProgramProcess.RunWithAsync(new Dictionary<string, string> { ["NOTIFY_SOCKET"] = systemd.Path }, Wait,
            "run", "--udp-forward", "127.0.0.1:9", "--tcp-listen", taken.LocalEndPoint!.ToString()!);

        Assert.Equal(2, outcome.ExitCode);
        var status = await systemd.NextAsync(Wait);
        Assert.StartsWith("STATUS=cannot start: ", status);
        Assert.Contains(taken.LocalEndPoint!.ToString()!, status);
        Assert.False(systemd.Pending, "nothing else, READY=1 least of all");
    }

    [Fact]
    public async Task The_watchdog_is_fed_only_when_the_actors_answer()
    {
        var notifier = new RecordingNotifier();
        var service = new ServiceNotifications(notifier);
        // Each check waits for the test's answer: the test, not the clock, decides what every tick sees.
        var checks = Channel.CreateUnbounded<TaskCompletionSource<bool>>();
        using var stop = new CancellationTokenSource();
        var watchdog = service.WatchdogAsync(TimeSpan.FromMilliseconds(20), _ =>
        {
            var answer = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            checks.Writer.TryWrite(answer);
            return answer.Task;
        }, stop.Token);

        foreach (var answers in new[] { true, false, true, false, false })
        {
            var check = await checks.Reader.ReadAsync().AsTask().WaitAsync(Wait);
            var fedBefore = notifier.Count;
            check.SetResult(answers);
            // The next check starts only once this one's outcome has been sent (or not).
            var next = await checks.Reader.ReadAsync().AsTask().WaitAsync(Wait);
            Assert.Equal(fedBefore + (answers ? 1 : 0), notifier.Count);
            // Hand the next check back to the loop's next round.
            await checks.Writer.WriteAsync(next);
        }
        await stop.CancelAsync();
        (await checks.Reader.ReadAsync().AsTask().WaitAsync(Wait)).SetResult(false);
        await watchdog.WaitAsync(Wait);
        Assert.All(notifier.States, s => Assert.Equal("WATCHDOG=1", s));
        Assert.Equal(2, notifier.Count);
    }

    [Theory]
    [InlineData("8:12345", "socket:[12345]", LogFormat.Journal)]
    [InlineData("8:12345", "socket:[999]", LogFormat.Text)] // inherited by a child whose stderr goes elsewhere
    [InlineData("8:12345", "pipe:[12345]", LogFormat.Text)]
    [InlineData(null, "socket:[12345]", LogFormat.Text)]
    [InlineData("", "socket:[12345]", LogFormat.Text)]
    public void The_journal_format_is_the_default_only_when_stderr_is_the_journals_stream(string? journalStream, string stderr, LogFormat expected) =>
        Assert.Equal(expected, LogFormats.Default(journalStream, stderr));

    [Fact]
    public async Task A_configuration_error_under_the_journal_carries_the_error_priority()
    {
        var outcome = await ProgramProcess.RunAsync(Wait, "run", "--udp-listen", "127.0.0.1:99999", "--tcp-listen", "127.0.0.1:0", "--log-format", "journal");
        Assert.Equal(2, outcome.ExitCode);
        Assert.StartsWith("<3>tunnelactors: configuration error: tunnel.udp.listen", outcome.Stderr);
    }

    [Theory]
    [InlineData("2000000", null, 2.0)]
    [InlineData("2000000", "self", 2.0)]
    [InlineData("2000000", "1", null)]
    [InlineData(null, null, null)]
    [InlineData("0", null, null)]
    public void The_watchdog_runs_only_when_systemd_asks_this_process_for_it(string? usec, string? pid, double? seconds)
    {
        var environment = new Dictionary<string, string?> { ["WATCHDOG_USEC"] = usec, ["WATCHDOG_PID"] = pid == "self" ? "4242" : pid };
        var interval = ServiceNotifications.WatchdogInterval(name => environment.GetValueOrDefault(name), 4242);
        Assert.Equal(seconds is { } s ? TimeSpan.FromSeconds(s) : null, interval);
    }

    private static IPEndPoint Endpoint(string status, string name)
    {
        var at = status.IndexOf(name + " ", StringComparison.Ordinal);
        Assert.True(at >= 0, $"{name} in {status}");
        var text = status[(at + name.Length + 1)..].Split(',')[0].Trim();
        return IPEndPoint.Parse(text);
    }

    private sealed class RecordingNotifier : ISystemdNotifier
    {
        private readonly List<string> _states = [];

        public IReadOnlyList<string> States
        {
            get { lock (_states) return _states.ToList(); }
        }

        public int Count => States.Count;

        public bool IsEnabled => true;

        public void Notify(ServiceState state)
        {
            lock (_states) _states.Add(state.ToString());
        }
    }

    /// <summary>systemd's end of <c>NOTIFY_SOCKET</c>.</summary>
    private sealed class NotifySocket : IDisposable
    {
        private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        private readonly string _directory = Directory.CreateTempSubdirectory("notify-").FullName;

        public NotifySocket()
        {
            Path = System.IO.Path.Combine(_directory, "notify");
            _socket.Bind(new UnixDomainSocketEndPoint(Path));
        }

        public string Path { get; }

        public bool Pending => _socket.Available > 0;

        public async Task<string> NextAsync(TimeSpan timeout)
        {
            var buffer = new byte[4096];
            using var cancel = new CancellationTokenSource(timeout);
            var length = await _socket.ReceiveAsync(buffer, SocketFlags.None, cancel.Token);
            return Encoding.UTF8.GetString(buffer, 0, length);
        }

        public void Dispose()
        {
            _socket.Dispose();
            Directory.Delete(_directory, recursive: true);
        }
    }
}
