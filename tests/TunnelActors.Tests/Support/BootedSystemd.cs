using System.Diagnostics;

namespace TunnelActors.Tests.Support;

/// <summary>
/// A real systemd, booted as PID 1 of a container of the test's own: <c>systemd-nspawn</c> on an overlay of this
/// machine's root file system (so it sees what is installed here, and what it writes goes to a tmpfs that is
/// thrown away), with a private network that holds only its own loopback. The nspawn process is ours: stopped
/// by its PID, and the mounts removed, on dispose.
/// </summary>
public sealed class BootedSystemd : IAsyncDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    private readonly string _directory;
    private readonly Process _nspawn;
    private readonly List<Process> _processes = [];
    private int _leader;

    private BootedSystemd(string directory, Process nspawn)
    {
        _directory = directory;
        _nspawn = nspawn;
    }

    /// <summary>The container's <c>/</c>, as this machine sees it: write files into it here.</summary>
    public string Root => Path.Combine(_directory, "root");

    /// <summary>Why systemd cannot be booted in a container here, or null.</summary>
    public static string? CannotBoot { get; } =
        !OperatingSystem.IsLinux() ? "systemd needs Linux"
        : Environment.UserName != "root" ? "booting a container needs root"
        : Command.Find("systemd-nspawn") is null ? "booting a container needs systemd-nspawn (package systemd-container)"
        : !File.Exists("/lib/systemd/systemd") ? "booting a container needs systemd"
        : Command.Find("nsenter") is null ? "entering the container needs nsenter (util-linux)"
        : null;

    public static async Task<BootedSystemd> BootAsync()
    {
        var directory = Directory.CreateTempSubdirectory("tunnelactors-systemd-").FullName;
        var layers = Path.Combine(directory, "layers");
        var root = Path.Combine(directory, "root");
        Directory.CreateDirectory(layers);
        Directory.CreateDirectory(root);
        await Command.SucceedAsync(Wait, "mount", "-t", "tmpfs", "tmpfs", layers);
        try
        {
            Directory.CreateDirectory(Path.Combine(layers, "upper"));
            Directory.CreateDirectory(Path.Combine(layers, "work"));
            await Command.SucceedAsync(Wait, "mount", "-t", "overlay", "overlay", "-o", $"lowerdir=/,upperdir={layers}/upper,workdir={layers}/work", root);
        }
        catch
        {
            await Command.RunAsync(Wait, "umount", [layers]);
            throw;
        }

        var name = "ta-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4));
        BootedSystemd machine;
        try
        {
            // basic.target: systemd, journald and what a unit needs, none of this machine's other services.
            machine = new BootedSystemd(directory, Command.Start("systemd-nspawn",
            [
                "--directory", root, "--machine", name, "--boot", "--private-network", "--register=no", "--keep-unit",
                "--link-journal=no", "--uuid", Guid.NewGuid().ToString("N"), "--console=pipe", "--", "--unit=basic.target",
            ], discardOutput: true));
        }
        catch
        {
            await Unmount(directory);
            throw;
        }
        try
        {
            await machine.WaitUntilBootedAsync();
        }
        catch
        {
            await machine.DisposeAsync();
            throw;
        }
        return machine;
    }

    /// <summary>Runs a command in the container (its mounts, PIDs and network), to its end.</summary>
    public Task<Command.Outcome> RunAsync(params string[] command) =>
        Command.RunAsync(Wait, "nsenter", ["-t", _leader.ToString(), "-m", "-u", "-i", "-n", "-p", "--", .. command]);

    public async Task<Command.Outcome> SucceedAsync(params string[] command)
    {
        var outcome = await RunAsync(command);
        if (outcome.ExitCode != 0)
            throw new Xunit.Sdk.XunitException($"{string.Join(' ', command)} in the container exited {outcome.ExitCode}: {outcome.Output}");
        return outcome;
    }

    /// <summary>A unit's property, as <c>systemctl show</c> gives it.</summary>
    public async Task<string> PropertyAsync(string unit, string property) =>
        (await SucceedAsync("systemctl", "show", "--value", "-p", property, unit)).Stdout.Trim();

    /// <summary>Starts a long-running program in the container's network only (it is this machine's binary); killed on dispose.</summary>
    public Process StartInNetwork(params string[] command)
    {
        // Entering only the network namespace, nsenter runs the program in its own process: this PID.
        var process = Command.Start("nsenter", ["-t", _leader.ToString(), "-n", "--", .. command]);
        _processes.Add(process);
        return process;
    }

    private async Task WaitUntilBootedAsync()
    {
        var booted = await BoundSockets.EventuallyAsync(async () =>
        {
            if (_nspawn.HasExited) throw new InvalidOperationException($"systemd-nspawn exited {_nspawn.ExitCode} while booting");
            // nspawn's first child is a short-lived helper that forks the container's PID 1: take the child that is
            // PID 1 in its own namespace.
            _leader = ContainerInit() ?? 0;
            // Until systemd in there listens, systemctl cannot connect; then --wait returns once start-up is over.
            return _leader != 0 && (await RunAsync("systemctl", "is-system-running", "--wait")).Stdout.Trim() is "running" or "degraded";
        }, Wait, TimeSpan.FromMilliseconds(200));
        if (!booted) throw new TimeoutException("systemd did not finish booting in the container");
    }

    private int? ContainerInit()
    {
        try
        {
            foreach (var child in File.ReadAllText($"/proc/{_nspawn.Id}/task/{_nspawn.Id}/children").Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                var nspid = File.ReadLines($"/proc/{child}/status").FirstOrDefault(l => l.StartsWith("NSpid:", StringComparison.Ordinal));
                if (nspid?.Split('\t', ' ').Last() == "1") return int.Parse(child);
            }
        }
        catch (IOException)
        {
            // A child that exited between the two reads, or nspawn itself.
        }
        return null;
    }

    private static async Task Unmount(string directory)
    {
        // Never delete through a mount that is still there: the overlay shows this machine's whole root.
        await Command.SucceedAsync(Wait, "umount", Path.Combine(directory, "root"));
        await Command.SucceedAsync(Wait, "umount", Path.Combine(directory, "layers"));
        Directory.Delete(Path.Combine(directory, "root"));
        Directory.Delete(Path.Combine(directory, "layers"));
        Directory.Delete(directory);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            if (!process.HasExited) process.Kill();
            await process.WaitForExitAsync();
            process.Dispose();
        }
        // nspawn asks the container's systemd to power off on SIGTERM.
        if (!_nspawn.HasExited)
        {
            await Command.SignalAsync(_nspawn, "TERM");
            using var cancel = new CancellationTokenSource(Wait);
            try
            {
                await _nspawn.WaitForExitAsync(cancel.Token);
            }
            catch (OperationCanceledException)
            {
                _nspawn.Kill(entireProcessTree: true);
                await _nspawn.WaitForExitAsync();
            }
        }
        _nspawn.Dispose();
        await Unmount(_directory);
    }
}
