using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors.Observability;
using TunnelActors.Tools.Demo;

namespace TunnelActors.Tests.Observability;

public sealed class MetricsTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly UdpEcho _echo = new(new IPEndPoint(IPAddress.Loopback, 0));

    [Fact]
    public async Task The_meter_counts_what_crosses_a_side_and_its_sessions_and_connections()
    {
        await using var server = await Sides.StartAsync("metrics-server", ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", _echo.LocalEndPoint.ToString()));
        await using var client = await Sides.StartAsync("metrics-client", ("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", server.TcpEndpoint.ToString()), ("tunnel.session.idle-timeout", "1s"));

        Assert.Empty(await Peers.EchoAsync(client.UdpEndpoint, 3, [10, 100], rounds: 2));

        // A datagram is counted once its send has returned, which can be after the peer already has the echo.
        await BoundSockets.EventuallyAsync(() => SideMetrics.Read("metrics-client", "datagrams", ("direction", "udp-to-tcp")) == 12
            && SideMetrics.Read("metrics-client", "datagrams", ("direction", "tcp-to-udp")) == 12
            && SideMetrics.Read("metrics-server", "datagrams", ("direction", "tcp-to-udp")) == 12, Wait);
        Assert.Equal(12, SideMetrics.Read("metrics-client", "datagrams", ("direction", "udp-to-tcp")));
        Assert.Equal(12, SideMetrics.Read("metrics-client", "datagrams", ("direction", "tcp-to-udp")));
        Assert.Equal(3 * 2 * 110, SideMetrics.Read("metrics-client", "bytes", ("direction", "udp-to-tcp")));
        Assert.Equal(12, SideMetrics.Read("metrics-server", "datagrams", ("direction", "tcp-to-udp")));
        Assert.Equal(3, SideMetrics.Read("metrics-client", "sessions.started"));
        Assert.Equal(3, SideMetrics.Read("metrics-client", "sessions.active"));
        Assert.Equal(3, SideMetrics.Read("metrics-client", "connections.opened", ("origin", "dialed")));
        Assert.Equal(3, SideMetrics.Read("metrics-server", "connections.opened", ("origin", "accepted")));
        Assert.Equal(3, SideMetrics.Read("metrics-server", "sessions.active"));
        Assert.Equal(1, SideMetrics.Read("metrics-client", "endpoints.bound", ("endpoint", "udp")));
        Assert.Equal(0, SideMetrics.Read("metrics-client", "drops"));

        // Idle sessions end on both sides, and their connections close.
        Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read("metrics-client", "sessions.ended", ("reason", "idle")) == 3, Wait));
        Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read("metrics-server", "sessions.active") == 0, Wait));
        Assert.Equal(0, SideMetrics.Read("metrics-client", "sessions.active"));
        Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read("metrics-client", "connections.active") == 0, Wait));
    }

    [Fact]
    public async Task Drops_and_refusals_are_counted_by_reason()
    {
        await using var server = await Sides.StartAsync("refusing", ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", _echo.LocalEndPoint.ToString()),
            ("tunnel.tcp.allow", "10.0.0.0/8"));
        using (var stranger = new TcpClient())
        {
            try { await stranger.ConnectAsync(server.TcpEndpoint); } catch (SocketException) { } // reset while connecting: refused as well
            Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read("refusing", "connections.refused", ("reason", "not-allowed")) == 1, Wait));
        }
        await using var client = await Sides.StartAsync("dropping", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", server.TcpEndpoint.ToString()),
            ("tunnel.udp.allow", "10.0.0.0/8"));
        using var peer = Peers.Bind(AddressFamily.InterNetwork);
        await peer.SendToAsync(new byte[] { 1 }, client.UdpEndpoint);
        Assert.True(await BoundSockets.EventuallyAsync(() => SideMetrics.Read("dropping", "drops", ("reason", "not-allowed")) == 1, Wait));
        Assert.Equal(1, SideMetrics.Read("dropping", "drops"));
    }

    [Fact]
    public async Task Stopping_a_side_never_waits_for_a_metrics_request_it_is_still_answering()
    {
        // An instrument of the side's meter whose reading hangs until released: a scrape now hangs inside the server.
        using var release = new ManualResetEventSlim();
        using var reading = new SemaphoreSlim(0);
        using var meter = new System.Diagnostics.Metrics.Meter(TunnelMetrics.MeterName);
        meter.CreateObservableGauge("test.slow", () =>
        {
            reading.Release();
            release.Wait(Wait);
            return 1;
        });
        var port = BoundSockets.FreeTcpPort();
        var side = await Sides.StartAsync("slow-scrape", ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", _echo.LocalEndPoint.ToString()),
            ("tunnel.metrics.listen", $"127.0.0.1:{port}"));
        using var http = new HttpClient { Timeout = Wait };
        try
        {
            var scrape = http.GetAsync($"http://127.0.0.1:{port}/metrics");
            Assert.True(await reading.WaitAsync(Wait), "the scrape never reached the instruments");

            // The supervisor stops on the actors' thread: nothing there may wait for the request (it used to, up to 5 s).
            var clock = Stopwatch.StartNew();
            await side.DisposeAsync();
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2.5), $"the side took {clock.ElapsedMilliseconds} ms to stop");
            // And its port is free at once.
            using var again = new TcpListener(IPAddress.Loopback, port);
            again.Start();
        }
        finally
        {
            release.Set();
        }
    }

    [Fact]
    public async Task Healthz_answers_503_until_every_endpoint_is_bound()
    {
        var health = new EndpointHealth();
        var server = MetricsServer.Start(new IPEndPoint(IPAddress.Loopback, 0), health);
        using var stop = new Stopping(server);
        using var http = new HttpClient { BaseAddress = new Uri($"http://{server.Endpoint}") };

        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync("/healthz")).StatusCode);
        health.Set("udp", true);
        health.Set("tcp", false);
        var answer = await http.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.StatusCode);
        Assert.Contains("tcp not bound", await answer.Content.ReadAsStringAsync());
        health.Set("tcp", true);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);
        health.Down();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/other")).StatusCode);
    }

    [Fact]
    public async Task A_running_side_serves_prometheus_metrics_and_health()
    {
        await using var server = SideProcess.Start("--tcp-listen", "127.0.0.1:0", "--udp-forward", _echo.LocalEndPoint.ToString());
        await using var client = SideProcess.Start("--udp-listen", "127.0.0.1:0", "--tcp-connect", $"127.0.0.1:{await server.TcpPortAsync()}",
            "--metrics", "127.0.0.1:0");
        var tunnel = new IPEndPoint(IPAddress.Loopback, await client.UdpPortAsync());
        var metrics = await client.MetricsEndpointAsync();
        Assert.Empty(await Peers.EchoAsync(tunnel, 2, [1, 1200]));

        using var http = new HttpClient { BaseAddress = new Uri($"http://{metrics}") };
        var health = await http.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        var text = await http.GetStringAsync("/metrics");
        Assert.Contains("tunnelactors_datagrams{carrier=\"tcp\",direction=\"udp-to-tcp\",orientation=\"udp-listen/tcp-connect\",side=\"tunnelactors\"} 4", text);
        Assert.Contains("tunnelactors_sessions_active{carrier=\"tcp\",orientation=\"udp-listen/tcp-connect\",side=\"tunnelactors\"} 2", text);
        Assert.Contains("process_working_set_bytes", text);
        Assert.DoesNotContain("127.0.0.1", text);
    }

    [Fact]
    public async Task A_metrics_port_in_use_stops_the_side_with_exit_code_2_naming_the_setting()
    {
        using var taken = BoundSockets.TakenTcpPort();
        var outcome = await ProgramProcess.RunAsync(Wait, "run", "--udp-forward", _echo.LocalEndPoint.ToString(), "--tcp-listen", "127.0.0.1:0",
            "--metrics", taken.LocalEndPoint!.ToString()!);
        Assert.Equal(2, outcome.ExitCode);
        Assert.Contains("tunnel.metrics.listen", outcome.Stderr);
    }

    [Fact]
    public async Task Dotnet_counters_reads_the_meter_of_a_running_side_by_its_name()
    {
        // dotnet-counters comes from the repository's tool manifest; restoring it is a no-op once done.
        var restore = await RunDotnetAsync("tool", "restore");
        Assert.True(restore.ExitCode == 0, $"dotnet tool restore failed: {restore.Output}");

        // The program as installed runs as `tunnelactors` (its native launcher), the name operators give dotnet-counters.
        await using var side = SideProcess.StartLauncher("--udp-listen", "127.0.0.1:0", "--tcp-listen", "127.0.0.1:0", "--no-auth");
        await side.UdpPortAsync();
        var csv = Path.Combine(Path.GetTempPath(), $"counters-{Guid.NewGuid():n}.csv");
        try
        {
            var counters = await Command.RunAsync(Wait, "dotnet", ["tool", "run", "dotnet-counters", "--", "collect", "-n", "tunnelactors",
                "--counters", TunnelMetrics.MeterName, "--duration", "00:00:00:03", "--format", "csv", "-o", csv]);
            Assert.True(counters.ExitCode == 0, counters.Output);
            var lines = await File.ReadAllLinesAsync(csv);
            Assert.Contains(lines, line => line.Contains("TunnelActors,endpoints.bound") && line.Contains("endpoint=udp") && line.EndsWith(",1"));
            Assert.Contains(lines, line => line.Contains("TunnelActors,sessions.active"));
        }
        finally
        {
            File.Delete(csv);
        }
    }

    private static async Task<(int ExitCode, string Output)> RunDotnetAsync(params string[] args)
    {
        var outcome = await Command.RunAsync(Wait, "dotnet", args);
        return (outcome.ExitCode, outcome.Output);
    }

    public void Dispose() => _echo.Dispose();

    /// <summary>Stops a metrics server the test started, however the test ends.</summary>
    private sealed class Stopping(MetricsServer server) : IDisposable
    {
        public void Dispose() => server.Stop();
    }
}
