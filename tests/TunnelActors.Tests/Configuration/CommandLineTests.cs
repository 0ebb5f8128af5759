using System.Net;
using System.Net.Sockets;
using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors.Auth;
using TunnelActors.Tools.Demo;

namespace TunnelActors.Tests.Configuration;

/// <summary>The real program, as a process.</summary>
public sealed class CommandLineTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Bad_configuration_stops_with_one_line_naming_the_key_and_exit_code_2()
    {
        var outcome = await ProgramProcess.RunAsync(Timeout, "run", "--udp-listen", "127.0.0.1:99999", "--tcp-listen", "127.0.0.1:0");
        Assert.Equal(2, outcome.ExitCode);
        var line = Assert.Single(outcome.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("tunnel.udp.listen", line);
        Assert.Contains("out of range", line);
    }

    [Theory]
    [InlineData("tunnel { udp.listen = \"127.0.0.1:0\", tcp.listen = \"127.0.0.1:0\", session.idle-timout = 5s }", "tunnel.session.idle-timout")]
    [InlineData("tunnel { udp.listen = [1, 2 }", "malformed HOCON")] // Akka's parser never finishes on this one
    public async Task A_bad_file_stops_with_exit_code_2_and_says_why(string hocon, string expected)
    {
        using var file = new TempFile(hocon);
        var outcome = await ProgramProcess.RunAsync(Timeout, "run", "--config", file.Path);
        Assert.Equal(2, outcome.ExitCode);
        Assert.Contains(expected, outcome.Stderr);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_key_file_anyone_can_change_stops_with_exit_code_2_and_one_line_naming_the_setting()
    {
        using var key = new TempFile(TunnelActors.Auth.PreSharedKey.Generate());
        File.SetUnixFileMode(key.Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherWrite);
        var outcome = await ProgramProcess.RunAsync(Timeout, "run", "--udp-forward", "127.0.0.1:9", "--tcp-listen", "127.0.0.1:0", "--psk-file", key.Path);
        Assert.Equal(2, outcome.ExitCode);
        var line = Assert.Single(outcome.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal($"tunnelactors: configuration error: tunnel.auth.psk-file: '{key.Path}' can be changed by users other than its owner " +
                     "(mode 0602): chmod 600 it", line);
    }

    [Fact]
    public async Task Check_validates_the_carrier_flags_without_binding_and_names_the_key_of_a_bad_one()
    {
        using var taken = BoundSockets.TakenTcpPort();
        var port = ((IPEndPoint)taken.LocalEndPoint!).Port;
        using var key = new TempFile(TunnelActors.Auth.PreSharedKey.Generate());

        // On a port another socket holds: check binds nothing, so it passes.
        var good = await ProgramProcess.RunAsync(Timeout, "check", "--udp-forward", "127.0.0.1:9", "--tcp-listen", $"127.0.0.1:{port}", "--psk-file", key.Path,
            "--websocket", "/tunnel", "--http-fallback", "127.0.0.1:8080");
        Assert.True(good.ExitCode == 0, good.Stderr);
        Assert.Contains("/tunnel", good.Stdout);

        foreach (var (args, named) in new (string[], string)[]
                 {
                     (["--udp-forward", "127.0.0.1:9", "--tcp-listen", $"127.0.0.1:{port}", "--websocket", "tunnel"], "tunnel.websocket.path"),
                     (["--udp-forward", "127.0.0.1:9", "--tcp-listen", $"127.0.0.1:{port}", "--http-fallback", "127.0.0.1:8080"], "tunnel.http-fallback.address"),
                     (["--udp-listen", "127.0.0.1:9", "--tcp-connect", "wss://user:pw@localhost/t"], "tunnel.tcp.connect"),
                     (["--udp-listen", "127.0.0.1:9", "--tcp-connect", "ws://localhost/t", "--websocket", "/t"], "tunnel.websocket.path"),
                 })
        {
            var bad = await ProgramProcess.RunAsync(Timeout, ["check", .. args]);
            Assert.Equal(2, bad.ExitCode);
            var line = Assert.Single(bad.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains(named, line);
        }
    }

    [Fact]
    public async Task A_port_in_use_stops_with_exit_code_2()
    {
        using var taken = BoundSockets.TakenTcpPort();
        var port = ((IPEndPoint)taken.LocalEndPoint!).Port;

        var outcome = await ProgramProcess.RunAsync(Timeout, "run", "--udp-forward", "127.0.0.1:9", "--tcp-listen", $"127.0.0.1:{port}");
        Assert.Equal(2, outcome.ExitCode);
        Assert.Contains($"127.0.0.1:{port}", outcome.Stderr);
    }

    [Fact]
    public async Task Check_notes_a_listen_port_below_1024_and_still_passes()
    {
        var low = await ProgramProcess.RunAsync(Timeout, "check", "--tcp-listen", "0.0.0.0:443", "--udp-forward", "127.0.0.1:51820");
        Assert.Equal(0, low.ExitCode);
        Assert.Contains("note: tunnel.tcp.listen 0.0.0.0:443 is a port below 1024", low.Stderr);
        var high = await ProgramProcess.RunAsync(Timeout, "check", "--tcp-listen", "0.0.0.0:8443", "--udp-forward", "127.0.0.1:51820");
        Assert.Equal(0, high.ExitCode);
        Assert.Equal("", high.Stderr);
    }

    [NamespaceFact]
    public async Task A_port_below_1024_without_the_capability_says_what_it_needs()
    {
        // Nobody, with no capabilities, as a service unit without its low-port drop-in runs the side.
        using var program = await ProgramProcess.Copy.MakeAsync();
        // In a network namespace of its own: there the unprivileged ports start at 1024 whatever this machine
        // (or a container it runs in) has set, and 443 is free.
        var outcome = await Command.RunAsync(Timeout, "unshare", ["--net", "sh", "-c",
                "ip link set lo up && exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all " +
                $"dotnet {program.Program} run --tcp-listen 127.0.0.1:443 --udp-forward 127.0.0.1:9"],
            environment: program.Environment);
        Assert.Equal(2, outcome.ExitCode);
        Assert.Contains("cannot start: cannot listen on TCP 127.0.0.1:443 (port 443 is below 1024: it needs root or CAP_NET_BIND_SERVICE)",
            outcome.Stderr);
    }

    [Theory]
    [InlineData("INT")]
    [InlineData("TERM")]
    public async Task A_signal_stops_the_side_cleanly_with_exit_code_0_and_frees_its_ports(string signal)
    {
        await using var side = SideProcess.Start("--udp-listen", "127.0.0.1:0", "--tcp-listen", "127.0.0.1:0", "--no-auth");
        var udpPort = await side.UdpPortAsync();
        var tcpPort = await side.TcpPortAsync();
        Assert.Equal(Sides.ListenSockets, BoundSockets.Udp(udpPort));

        await side.StopAsync(signal);

        Assert.True(side.ExitCode == 0, $"exit code {side.ExitCode}: {side.Log}");
        Assert.Contains("Tunnel side stopped", side.Log);
        Assert.Equal(0, BoundSockets.Udp(udpPort));
        Assert.Equal(0, BoundSockets.TcpListeners(tcpPort));
    }

    [Fact]
    public async Task Two_run_processes_carry_the_seed_deployment()
    {
        using var echo = new TunnelActors.Tools.Demo.UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        var keygen = await ProgramProcess.RunAsync(Timeout, "keygen");
        using var key = new TempFile(keygen.Stdout);
        await using var nat = SideProcess.Start("--udp-listen", "127.0.0.1:0", "--tcp-listen", "127.0.0.1:0", "--psk-file", key.Path);
        // Start the relay once the NAT side listens, so that its first dial connects.
        var tcpPort = await nat.TcpPortAsync();
        var udpPort = await nat.UdpPortAsync();
        await using var relay = SideProcess.Start("--tcp-connect", $"127.0.0.1:{tcpPort}", "--udp-forward", echo.LocalEndPoint.ToString(), "--psk-file", key.Path);
        Assert.True(await BoundSockets.EventuallyAsync(() => BoundSockets.KeepAliveTimers(tcpPort).Accepted > 0, Timeout), $"the relay did not connect: {relay.Log}");
        Assert.Empty(await Peers.EchoAsync(new IPEndPoint(IPAddress.Loopback, udpPort), 10, [0, 1, 1200, 9000], rounds: 3));
    }

    [Fact]
    public async Task Refusals_are_logged_once_per_source_and_redacted_addresses_never_appear()
    {
        var keygen = await ProgramProcess.RunAsync(Timeout, "keygen");
        using var key = new TempFile(keygen.Stdout);
        await using var side = SideProcess.Start("--udp-listen", "127.0.0.1:0", "--tcp-listen", "127.0.0.1:0",
            "--psk-file", key.Path, "--redact-addresses");
        var tunnel = new IPEndPoint(IPAddress.Loopback, await side.TcpPortAsync());
        // Five connections from one source that fail the handshake: five refusals counted, one line.
        for (var i = 0; i < 5; i++)
        {
            using var hostile = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            hostile.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.5"), 0));
            await hostile.ConnectAsync(tunnel);
            await hostile.SendAsync(Enumerable.Range(1, 200).Select(n => (byte)n).ToArray());
            await Connections.ReadUntilClosedAsync(hostile, Timeout);
        }
        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        peer.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.6"), 0));
        await peer.SendToAsync(new byte[] { 1, 2, 3 }, new IPEndPoint(IPAddress.Loopback, await side.UdpPortAsync()));
        await side.LoggedAsync("Session started for peer");
        await side.StopAsync();

        var lines = side.Log.Split('\n');
        var refusal = Assert.Single(lines, line => line.Contains("Tunnel connection with") && line.Contains("refused"));
        Assert.Contains("refused HandshakeFailed=5", Assert.Single(lines, line => line.Contains("Tunnel side stopped")));
        Assert.Matches(@"anon-[0-9a-f]{8}:\d+", refusal);
        Assert.Matches(@"anon-[0-9a-f]{8}:\d+", Assert.Single(lines, line => line.Contains("Session started for peer")));
        Assert.DoesNotContain("127.0.0.5", side.Log);
        Assert.DoesNotContain("127.0.0.6", side.Log);
    }

    [Fact]
    public async Task Check_validates_without_binding_and_prints_settings_run_reads_back()
    {
        // A port that run could not bind: check binds nothing, so it does not care.
        using var taken = BoundSockets.TakenTcpPort();
        var outcome = await ProgramProcess.RunAsync(Timeout, "check", "--udp-forward", "127.0.0.1:53", "--tcp-listen", taken.LocalEndPoint!.ToString()!,
            "--tcp-allow", "10.0.0.0/8", "--idle-timeout", "42s");
        Assert.True(outcome.ExitCode == 0, outcome.Stderr);
        Assert.Contains($"listen = \"{taken.LocalEndPoint}\"", outcome.Stdout);
        Assert.Contains("allow = \"10.0.0.0/8\"", outcome.Stdout);
        Assert.Contains("idle-timeout = \"42s\"", outcome.Stdout);

        using var effective = new TempFile(outcome.Stdout);
        var again = await ProgramProcess.RunAsync(Timeout, "check", "--config", effective.Path);
        Assert.Equal(0, again.ExitCode);
        Assert.Equal(outcome.Stdout, again.Stdout);

        var bad = await ProgramProcess.RunAsync(Timeout, "check", "--udp-forward", "127.0.0.1:53", "--tcp-listen", "127.0.0.1:0", "--idle-timeout", "soon");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("tunnel.session.idle-timeout", Assert.Single(bad.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }

    [Fact]
    public async Task Json_logs_are_one_json_object_per_line()
    {
        await using var side = SideProcess.Start("--udp-listen", "127.0.0.1:0", "--tcp-listen", "127.0.0.1:0", "--no-auth", "--log-format", "json");
        await side.LoggedAsync("Listening for UDP");
        await side.StopAsync();

        Assert.Equal(0, side.ExitCode);
        Assert.Equal("", side.Stdout);
        var lines = side.Log.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var events = lines.Select(line => System.Text.Json.JsonDocument.Parse(line).RootElement).ToList();
        Assert.All(events, e => Assert.True(e.TryGetProperty("@t", out _) && e.TryGetProperty("@mt", out _)));
        Assert.Contains(events, e => e.GetProperty("@mt").GetString()!.StartsWith("Tunnel side stopped"));
    }

    [Fact]
    public async Task Keygen_prints_a_new_256_bit_key_each_time()
    {
        var first = (await ProgramProcess.RunAsync(Timeout, "keygen")).Stdout.Trim();
        var second = (await ProgramProcess.RunAsync(Timeout, "keygen")).Stdout.Trim();
        Assert.Matches("^[0-9a-f]{64}$", first);
        Assert.Matches("^[0-9a-f]{64}$", second);
        Assert.NotEqual(first, second);
    }

    [Fact]
    public async Task A_side_listening_on_udp_and_tcp_without_a_key_refuses_to_start_and_says_what_to_set()
    {
        var outcome = await ProgramProcess.RunAsync(Timeout, "run", "--udp-listen", "127.0.0.1:0", "--tcp-listen", "127.0.0.1:0");
        Assert.Equal(2, outcome.ExitCode);
        var line = Assert.Single(outcome.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("tunnel.auth.psk-file", line);
        Assert.Contains("--psk-file", line);
        Assert.Contains("--tcp-allow", line);
        Assert.Contains("--no-auth", line);
    }

    [Fact]
    public async Task A_side_that_gives_up_dialing_exits_1_with_a_last_line_that_says_why()
    {
        var closedPort = BoundSockets.FreeTcpPort();
        using var file = new TempFile("tunnel.tcp.reconnect { min-backoff = 50ms, max-backoff = 100ms, max-retries = 2 }");
        var outcome = await ProgramProcess.RunAsync(Timeout, "run", "--config", file.Path,
            "--udp-forward", "127.0.0.1:9", "--tcp-connect", $"127.0.0.1:{closedPort}", "--pool-size", "0");
        Assert.True(outcome.ExitCode == 1, $"exit code {outcome.ExitCode}: {outcome.Stderr}");
        var last = outcome.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
        Assert.StartsWith($"tunnelactors: stopped: gave up on 127.0.0.1:{closedPort} after 2 failed attempts", last);
    }

    [Fact]
    public async Task Help_lists_every_flag_of_run()
    {
        var outcome = await ProgramProcess.RunAsync(Timeout, "run", "--help");
        Assert.Equal(0, outcome.ExitCode);
        foreach (var flag in new[] { "--config", "--udp-listen", "--udp-forward", "--tcp-listen", "--tcp-connect", "--pool-size", "--idle-timeout", "--psk-file", "--no-auth", "--tcp-allow", "--udp-allow", "--redact-addresses", "--metrics", "--log-level", "--log-format" })
            Assert.Contains(flag, outcome.Stdout);
    }

    [Fact]
    public async Task The_demo_exits_0_when_every_reply_reached_its_sender()
    {
        var outcome = await ProgramProcess.RunAsync(Timeout, "demo", "--log-level", "Warning");
        Assert.True(outcome.ExitCode == 0, outcome.Stdout + outcome.Stderr);
        Assert.Contains("OK: every reply reached the peer that sent it", outcome.Stdout);
    }
}
