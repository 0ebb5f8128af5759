using System.Runtime.Versioning;
using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors.Auth;
using TunnelActors.Configuration;

namespace TunnelActors.Tests.Auth;

/// <summary>What a side refuses to take as its key file, as OpenSSH does for a private key, and what it reads of one.</summary>
[UnsupportedOSPlatform("windows")]
public sealed class KeyFileSafetyTests
{
    private const string Setting = "tunnel.auth.psk-file";
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const int Nobody = 65534;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(UnixFileMode.GroupWrite)]
    [InlineData(UnixFileMode.OtherWrite)]
    public void A_key_file_others_can_change_is_refused(UnixFileMode extra)
    {
        using var file = new TempFile(PreSharedKey.Generate());
        File.SetUnixFileMode(file.Path, OwnerOnly | extra);
        var message = Refused(file.Path);
        Assert.Contains("can be changed by users other than its owner", message);
        Assert.Contains("chmod 600", message);
    }

    [Fact]
    public void A_key_file_every_user_can_read_is_refused()
    {
        using var file = new TempFile(PreSharedKey.Generate());
        File.SetUnixFileMode(file.Path, OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var message = Refused(file.Path);
        Assert.Contains("can be read by every user", message);
        Assert.Contains("(mode 0644)", message);
        Assert.Contains("chmod 600", message);
    }

    [RootFact]
    public async Task A_key_file_owned_by_another_user_is_refused()
    {
        using var file = new TempFile(PreSharedKey.Generate());
        await Command.SucceedAsync(Timeout, "chown", $"{Nobody}:{Nobody}", file.Path);
        var message = Refused(file.Path);
        Assert.Contains($"is owned by uid {Nobody}, not by root or uid 0 that this runs as", message);
        Assert.Contains("chown", message);
    }

    [Fact]
    public void The_file_a_link_leads_to_is_what_is_checked()
    {
        using var target = new TempFile(PreSharedKey.Generate());
        var link = target.Path + ".link";
        File.CreateSymbolicLink(link, target.Path);
        try
        {
            KeyFile.Load(Setting, link);
            File.SetUnixFileMode(target.Path, OwnerOnly | UnixFileMode.OtherWrite);
            Assert.Contains("can be changed by users other than its owner", Refused(link));
        }
        finally
        {
            File.Delete(link);
        }
    }

    [Fact]
    public void A_key_file_larger_than_4_KiB_is_refused()
    {
        // A valid key and then 10 MB of blank lines: the size alone is what is refused.
        using var file = new TempFile(PreSharedKey.Generate() + new string('\n', 10 * 1024 * 1024));
        var message = Refused(file.Path);
        Assert.Contains("is larger than 4 KiB", message);
    }

    [Fact]
    public async Task A_file_that_reads_longer_than_its_size_says_is_refused_after_4_KiB()
    {
        // /proc/self/environ reports a size of 0, belongs to the process and only it may read it.
        var outcome = await ProgramProcess.RunWithAsync(new Dictionary<string, string> { ["PADDING"] = new('x', 8 * 1024) }, Timeout,
            "check", "--tcp-listen", "127.0.0.1:0", "--udp-forward", "127.0.0.1:9", "--psk-file", "/proc/self/environ");
        Assert.Equal(2, outcome.ExitCode);
        Assert.Contains("'/proc/self/environ' is larger than 4 KiB:", outcome.Stderr);
    }

    [Fact]
    public async Task A_device_given_by_mistake_is_refused_without_reading_it()
    {
        var message = await Task.Run(() => Refused("/dev/zero")).WaitAsync(Timeout);
        Assert.Contains("'/dev/zero' is not a regular file", message);
    }

    [Fact]
    public async Task A_fifo_given_by_mistake_is_refused_without_waiting_for_a_writer()
    {
        var directory = Directory.CreateTempSubdirectory("tunnelactors-fifo-").FullName;
        try
        {
            var fifo = Path.Combine(directory, "key");
            await Command.SucceedAsync(Timeout, "mkfifo", "-m", "600", fifo);
            var message = await Task.Run(() => Refused(fifo)).WaitAsync(Timeout);
            Assert.Contains("is not a regular file", message);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void A_key_file_its_own_group_may_read_loads_without_a_warning()
    {
        // root:tunnelactors 0640 gives the service's group the key while only root can change it.
        using var file = new TempFile(PreSharedKey.Generate());
        File.SetUnixFileMode(file.Path, OwnerOnly | UnixFileMode.GroupRead);
        KeyFile.Load(Setting, file.Path);
        Assert.Empty(ExposureWarnings.For(Keyed(file.Path)));
    }

    [RootFact]
    public async Task A_key_file_another_group_may_read_is_a_warning_at_start()
    {
        using var file = new TempFile(PreSharedKey.Generate());
        File.SetUnixFileMode(file.Path, OwnerOnly | UnixFileMode.GroupRead);
        await Command.SucceedAsync(Timeout, "chgrp", $"{Nobody}", file.Path);
        var warning = Assert.Single(ExposureWarnings.For(Keyed(file.Path)));
        Assert.Contains($"readable by group {Nobody}", warning);
        Assert.Contains("chmod 600", warning);
    }

    [RootFact]
    public async Task A_side_run_as_another_user_takes_a_key_it_owns_or_one_root_owns_for_its_group()
    {
        using var program = await ProgramProcess.Copy.MakeAsync();
        var own = Path.Combine(program.Directory, "own.key");
        var rootGroup = Path.Combine(program.Directory, "root-group.key");
        var stranger = Path.Combine(program.Directory, "stranger.key");
        foreach (var key in new[] { own, rootGroup, stranger })
            File.WriteAllText(key, PreSharedKey.Generate());
        File.SetUnixFileMode(own, OwnerOnly);
        await Command.SucceedAsync(Timeout, "chown", $"{Nobody}:{Nobody}", own);
        File.SetUnixFileMode(rootGroup, OwnerOnly | UnixFileMode.GroupRead);
        await Command.SucceedAsync(Timeout, "chown", $"0:{Nobody}", rootGroup);
        File.SetUnixFileMode(stranger, OwnerOnly | UnixFileMode.GroupRead);
        await Command.SucceedAsync(Timeout, "chown", $"{Nobody - 1}:{Nobody}", stranger);

        Task<Command.Outcome> CheckAsNobody(string key) => Command.RunAsync(Timeout, "setpriv",
            ["--reuid", $"{Nobody}", "--regid", $"{Nobody}", "--clear-groups", "dotnet", program.Program, "check",
                "--tcp-listen", "127.0.0.1:0", "--udp-forward", "127.0.0.1:9", "--psk-file", key],
            environment: program.Environment);
        foreach (var key in new[] { own, rootGroup })
        {
            var outcome = await CheckAsNobody(key);
            Assert.True(outcome.ExitCode == 0, $"{Path.GetFileName(key)}: {outcome.Stderr}");
        }
        var refused = await CheckAsNobody(stranger);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains($"is owned by uid {Nobody - 1}, not by root or uid {Nobody} that this runs as", refused.Stderr);
    }

    private static string Refused(string path)
    {
        var e = Assert.Throws<ConfigurationException>(() => KeyFile.Load(Setting, path));
        Assert.Equal(Setting, e.Key);
        Assert.DoesNotContain('\n', e.Message);
        return e.Message;
    }

    private static TunnelSettings Keyed(string keyFile) =>
        Sides.Configure(("tunnel.tcp.listen", "0.0.0.0:9999"), ("tunnel.udp.forward", "127.0.0.1:53"), (Setting, keyFile)).Settings;
}
