using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors.Auth;

namespace TunnelActors.Tests.Packaging;

/// <summary>The .deb on this machine, as an operator installs it: apt-get install, use, upgrade, purge.</summary>
[Collection(PackagesCollection.Name)]
public sealed class DebianPackageTests(BuiltPackages packages)
{
    private static readonly TimeSpan Wait = TimeSpan.FromMinutes(3);

    [PackageFact]
    public async Task Installs_runs_its_demo_from_the_PATH_passes_systemd_analyze_keeps_edited_configs_and_purges_cleanly()
    {
        await DebianPackage.PurgeAsync();
        try
        {
            var install = await DebianPackage.InstallAsync(packages.Deb);
            Assert.DoesNotContain("warning", install.Output, StringComparison.OrdinalIgnoreCase);
            Assert.Contains($"install ok installed {packages.Version}", (await Command.SucceedAsync(Wait, "dpkg-query", "-W", "-f", "${Status} ${Version}", "tunnelactors")).Stdout);

            // From the PATH, as a user types it.
            Assert.Equal("/usr/bin/tunnelactors", Command.Find("tunnelactors"));
            var demo = await Command.RunAsync(Wait, "tunnelactors", ["demo"], Path.GetTempPath());
            Assert.True(demo.ExitCode == 0, demo.Output);
            Assert.Contains("OK: every reply reached the peer that sent it", demo.Stdout);
            Assert.StartsWith(packages.Version, (await Command.SucceedAsync(Wait, "tunnelactors", "--version")).Stdout);

            var verify = await Command.RunAsync(Wait, "systemd-analyze", ["verify", "tunnelactors@seed-nat.service"]);
            Assert.True(verify.ExitCode == 0, verify.Output);
            Assert.DoesNotContain("tunnelactors", verify.Output);

            var manual = await Command.RunAsync(Wait, "man", ["-P", "cat", "tunnelactors"], environment: new Dictionary<string, string> { ["MANWIDTH"] = "100" });
            Assert.True(manual.ExitCode == 0, manual.Output);
            Assert.Contains("TUNNELACTORS_UDP_LISTEN", manual.Stdout);
            Assert.Contains("--tcp-connect", manual.Stdout);

            // The service's user, and a configuration directory only it (and root) may read.
            var user = (await Command.SucceedAsync(Wait, "getent", "passwd", "tunnelactors")).Stdout.Trim().Split(':');
            Assert.Equal("/usr/sbin/nologin", user[6]);
            Assert.Equal("root:tunnelactors 750", (await Command.SucceedAsync(Wait, "stat", "-c", "%U:%G %a", "/etc/tunnelactors")).Stdout.Trim());

            // Every example is a valid configuration once it has its key.
            using var key = new TempFile(TunnelActors.Auth.PreSharedKey.Generate());
            if (OperatingSystem.IsLinux()) File.SetUnixFileMode(key.Path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            foreach (var example in new[] { "seed-nat", "seed-relay", "server", "client" })
            {
                var check = await Command.RunAsync(Wait, "tunnelactors", ["check", "--config", $"/etc/tunnelactors/{example}.hocon", "--psk-file", key.Path]);
                Assert.True(check.ExitCode == 0, $"{example}: {check.Output}");
            }

            // An edited configuration survives a reinstall (dpkg conffiles).
            const string edit = "# edited by the operator\n";
            await File.AppendAllTextAsync("/etc/tunnelactors/seed-nat.hocon", edit);
            await DebianPackage.InstallAsync(packages.Deb, "--reinstall");
            Assert.EndsWith(edit, await File.ReadAllTextAsync("/etc/tunnelactors/seed-nat.hocon"));
        }
        finally
        {
            await DebianPackage.PurgeAsync();
        }

        var status = await Command.RunAsync(Wait, "dpkg-query", ["-W", "-f", "${Status}", "tunnelactors"]);
        Assert.True(status.ExitCode != 0 || status.Stdout.Contains("not-installed"), $"dpkg still knows the package: {status.Output}");
        foreach (var path in new[] { "/usr/bin/tunnelactors", "/usr/lib/tunnelactors", "/etc/tunnelactors", "/usr/lib/systemd/system/tunnelactors@.service",
                     "/usr/share/man/man1/tunnelactors.1.gz", "/usr/share/doc/tunnelactors", "/usr/lib/systemd/system/tunnelactors@.service.d" })
            Assert.False(Path.Exists(path), $"{path} is left after purge");
        Assert.NotEqual(0, (await Command.RunAsync(Wait, "getent", ["passwd", "tunnelactors"])).ExitCode);
    }
}

/// <summary>The .deb against Debian's policy checker.</summary>
[Collection(PackagesCollection.Name)]
public sealed class DebianPolicyTests(BuiltPackages packages)
{
    [PackageFact]
    public async Task Lintian_finds_no_error_and_no_warning()
    {
        var lintian = await Command.RunAsync(TimeSpan.FromMinutes(5), "lintian", ["--fail-on", "error,warning", "--tag-display-limit", "0", packages.Deb]);
        Assert.True(lintian.ExitCode == 0, lintian.Output);
        Assert.DoesNotMatch(@"(?m)^[EW]: ", lintian.Stdout);
    }
}

/// <summary>apt-get on this machine's package database.</summary>
public static class DebianPackage
{
    private static readonly TimeSpan Wait = TimeSpan.FromMinutes(5);
    private static readonly Dictionary<string, string> Quiet = new() { ["DEBIAN_FRONTEND"] = "noninteractive" };

    public static async Task<Command.Outcome> InstallAsync(string deb, params string[] options)
    {
        // apt-get reads a path (not a package name) only when it has a slash.
        var outcome = await Command.RunAsync(Wait, "apt-get", ["install", "-y", "-q", .. options, Path.GetFullPath(deb)], environment: Quiet);
        Assert.True(outcome.ExitCode == 0, $"apt-get install {deb}: {outcome.Output}");
        return outcome;
    }

    /// <summary>Purges the package, installed or with its configuration left (a dev machine may have it from an earlier run); nothing if it is not there.</summary>
    public static async Task PurgeAsync()
    {
        var outcome = await Command.RunAsync(Wait, "dpkg", ["--purge", "tunnelactors"], environment: Quiet);
        Assert.True(outcome.ExitCode == 0, $"dpkg --purge tunnelactors: {outcome.Output}");
    }
}
