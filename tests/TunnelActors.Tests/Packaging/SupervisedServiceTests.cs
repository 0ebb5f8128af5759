using System.Text.RegularExpressions;
using TunnelActors.Tests.Support;
using Xunit;

namespace TunnelActors.Tests.Packaging;

/// <summary>
/// The installed package under a real systemd (<see cref="BootedSystemd"/>): a seed pair as two instances of
/// the unit template, set up with the operator's guide's commands, carrying traffic, restarted after a crash,
/// stopped cleanly.
/// </summary>
[Collection(PackagesCollection.Name)]
public sealed class SupervisedServiceTests(BuiltPackages packages)
{
    private const string Nat = "tunnelactors@test-nat";
    private const string Relay = "tunnelactors@test-relay";
    private const string Low = "tunnelactors@test-low";

    [SystemdFact]
    public async Task A_seed_pair_runs_as_two_supervised_instances_carries_traffic_comes_back_after_a_crash_and_stops_cleanly()
    {
        await DebianPackage.PurgeAsync();
        await DebianPackage.InstallAsync(packages.Deb);
        try
        {
            await using var machine = await BootedSystemd.BootAsync();
            // The guide's commands: a key only the service's user can read, a configuration per instance checked as that user.
            await machine.SucceedAsync("sh", "-c",
                "(umask 077; tunnelactors keygen > /etc/tunnelactors/tunnel.key) && chown tunnelactors: /etc/tunnelactors/tunnel.key");
            await Configure(machine, "test-nat", "udp.listen = \"127.0.0.1:0\", tcp.listen = \"127.0.0.1:0\"");
            await machine.SucceedAsync("runuser", "-u", "tunnelactors", "--", "tunnelactors", "check", "--config", "/etc/tunnelactors/test-nat.hocon");
            await machine.SucceedAsync("systemctl", "enable", "--now", Nat);

            // Type=notify: `enable --now` returned once the side said READY=1, after binding; its status names the ports.
            Assert.Equal("active", await machine.PropertyAsync(Nat, "ActiveState"));
            var status = await machine.PropertyAsync(Nat, "StatusText");
            var tcpPort = Port(status, "tcp");
            var udpPort = Port(status, "udp");
            Assert.Equal("tunnelactors", await machine.PropertyAsync(Nat, "User"));
            Assert.Equal("30s", await machine.PropertyAsync(Nat, "WatchdogUSec"));

            var echo = machine.StartInNetwork("tunnelactors", "bench", "echo", "--bind", "127.0.0.1:0");
            var echoAt = Regex.Match(await echo.StandardError.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)) ?? "",
                @"listening on (\S+),").Groups[1].Value;
            await Configure(machine, "test-relay", $"tcp.connect = \"127.0.0.1:{tcpPort}\", udp.forward = \"{echoAt}\", tcp.pool-size = 2");
            await machine.SucceedAsync("systemctl", "enable", "--now", Relay);

            await LoadPassesAsync(machine, udpPort);
            var journal = (await machine.SucceedAsync("journalctl", "-u", Nat, "-o", "json", "--no-pager")).Stdout;
            Assert.Contains("\"MESSAGE\":\"INF Listening for UDP on 127.0.0.1:", journal);
            Assert.Contains("\"PRIORITY\":\"6\"", journal);

            // A crash: systemd starts the relay host again after RestartSec, and the tunnel carries traffic again.
            await machine.SucceedAsync("systemctl", "kill", "--signal=KILL", Relay);
            Assert.True(await BoundSockets.EventuallyAsync(async () => await machine.PropertyAsync(Relay, "NRestarts") == "1" &&
                    await machine.PropertyAsync(Relay, "ActiveState") == "active", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(250)),
                "the relay was not restarted");
            await LoadPassesAsync(machine, udpPort);

            // No capabilities: a side on port 443 cannot bind until its instance gets the guide's low-port drop-in.
            // (The container's network is its own, so this port is free.)
            await Configure(machine, "test-low", "tcp.listen = \"127.0.0.1:443\", udp.forward = \"127.0.0.1:9\"");
            Assert.NotEqual(0, (await machine.RunAsync("systemctl", "start", Low)).ExitCode);
            Assert.Contains("it needs root or CAP_NET_BIND_SERVICE", (await machine.SucceedAsync("journalctl", "-u", Low, "--no-pager")).Stdout);
            // Exit 2 would fail the same way again: it is not restarted.
            Assert.Equal("failed", await machine.PropertyAsync(Low, "ActiveState"));
            Assert.Equal("0", await machine.PropertyAsync(Low, "NRestarts"));
            await machine.SucceedAsync("sh", "-c", "mkdir -p /etc/systemd/system/tunnelactors@test-low.service.d && " +
                "cp /usr/share/doc/tunnelactors/examples/low-port.conf /etc/systemd/system/tunnelactors@test-low.service.d/ && " +
                "systemctl daemon-reload && systemctl restart tunnelactors@test-low");
            Assert.Equal("active", await machine.PropertyAsync(Low, "ActiveState"));
            Assert.Contains("tcp 127.0.0.1:443", await machine.PropertyAsync(Low, "StatusText"));
            Assert.Equal("cap_net_bind_service", await machine.PropertyAsync(Low, "AmbientCapabilities"));
            Assert.Equal("", await machine.PropertyAsync(Nat, "AmbientCapabilities"));
            await machine.SucceedAsync("systemctl", "stop", Low);

            await machine.SucceedAsync("systemctl", "stop", Nat, Relay);
            foreach (var unit in new[] { Nat, Relay })
            {
                Assert.Equal("inactive", await machine.PropertyAsync(unit, "ActiveState"));
                Assert.Equal("success", await machine.PropertyAsync(unit, "Result"));
                Assert.Equal("0", await machine.PropertyAsync(unit, "ExecMainStatus"));
            }

            // An upgrade (here: the same package again) restarts a running instance on the new program; a purge
            // stops it and takes the unit away.
            await machine.SucceedAsync("systemctl", "start", Nat);
            var before = await machine.PropertyAsync(Nat, "MainPID");
            // (nspawn gives the container a /tmp of its own; this directory is in the overlay's throwaway layer.)
            Directory.CreateDirectory(Path.Combine(machine.Root, "srv/tunnelactors-test"));
            File.Copy(packages.Deb, Path.Combine(machine.Root, "srv/tunnelactors-test/tunnelactors.deb"));
            await machine.SucceedAsync("dpkg", "-i", "/srv/tunnelactors-test/tunnelactors.deb");
            Assert.Equal("active", await machine.PropertyAsync(Nat, "ActiveState"));
            Assert.NotEqual(before, await machine.PropertyAsync(Nat, "MainPID"));
            await machine.SucceedAsync("dpkg", "--purge", "tunnelactors");
            Assert.Equal("inactive", await machine.PropertyAsync(Nat, "ActiveState"));
            Assert.Equal("not-found", await machine.PropertyAsync(Nat, "LoadState"));
            Assert.NotEqual(0, (await machine.RunAsync("getent", "passwd", "tunnelactors")).ExitCode);
        }
        finally
        {
            await DebianPackage.PurgeAsync();
        }
    }

    private static Task Configure(BootedSystemd machine, string instance, string settings) =>
        File.WriteAllTextAsync(Path.Combine(machine.Root, "etc/tunnelactors", instance + ".hocon"),
            $"tunnel {{ {settings}, auth.psk-file = \"/etc/tunnelactors/tunnel.key\" }}\n");

    private static async Task LoadPassesAsync(BootedSystemd machine, int udpPort)
    {
        var load = await machine.SucceedAsync("tunnelactors", "bench", "load", "--target", $"127.0.0.1:{udpPort}", "--peers", "4", "--rate", "400",
            "--duration", "2", "--warmup", "0.5");
        LoadReport.Parse(load.Stdout).AssertAllAnswered(atLeast: 600, load.Output);
    }

    private static int Port(string status, string endpoint) =>
        int.Parse(Regex.Match(status, $@"\b{endpoint} 127\.0\.0\.1:(\d+)").Groups[1] is { Success: true } port ? port.Value
            : throw new Xunit.Sdk.XunitException($"no {endpoint} port in the status '{status}'"));
}

/// <summary>A fact that boots systemd in a container: needs root, systemd-nspawn and dpkg. Skipped without them, except under CI, where it must run.</summary>
public sealed class SystemdFactAttribute : FactAttribute
{
    public SystemdFactAttribute()
    {
        var why = BootedSystemd.CannotBoot ?? BuiltPackages.CannotBuild;
        if (why is not null && Environment.GetEnvironmentVariable("CI") != "true") Skip = $"{why}; CI installs it and runs this test";
    }
}
