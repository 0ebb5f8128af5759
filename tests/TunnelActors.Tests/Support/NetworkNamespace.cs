using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;

namespace TunnelActors.Tests.Support;

/// <summary>
/// A test host of our own: a network namespace joined to this one by a veth pair, with addresses from the
/// benchmarking range 198.18.0.0/15 that exist only on the two ends of that pair. Processes started in it
/// are ours (killed by the PID we got); the namespace and its link are deleted on dispose.
/// </summary>
public sealed class NetworkNamespace : IAsyncDisposable
{
    private readonly List<Process> _processes = new();

    private NetworkNamespace(string name, string hostLink, IPAddress hostAddress, IPAddress namespaceAddress)
    {
        Name = name;
        HostLink = hostLink;
        HostAddress = hostAddress;
        NamespaceAddress = namespaceAddress;
    }

    public string Name { get; }
    private string HostLink { get; }

    /// <summary>This side of the veth pair, in the test process's namespace.</summary>
    public IPAddress HostAddress { get; }

    /// <summary>The far side of the veth pair, inside the namespace.</summary>
    public IPAddress NamespaceAddress { get; }

    /// <summary>Why the interop tests cannot run here, or null when they can.</summary>
    public static string? Unavailable { get; } = FindUnavailable();

    private static string? FindUnavailable()
    {
        if (!OperatingSystem.IsLinux()) return "network namespaces need Linux";
        if (Environment.UserName != "root") return "creating network namespaces needs root";
        foreach (var tool in new[] { "ip", "udptunnel" })
        {
            var found = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
                .Any(dir => File.Exists(Path.Combine(dir, tool)));
            if (!found) return $"'{tool}' is not installed (apt-get install iproute2 udptunnel)";
        }
        return null;
    }

    public static async Task<NetworkNamespace> CreateAsync()
    {
        var id = Convert.ToHexString(RandomNumberGenerator.GetBytes(3)).ToLowerInvariant();
        var subnet = RandomNumberGenerator.GetInt32(0, 256);
        var host = IPAddress.Parse($"198.18.{subnet}.1");
        var inside = IPAddress.Parse($"198.18.{subnet}.2");
        var ns = new NetworkNamespace(await NamespaceNames.NewAsync(id), $"tah{id}", host, inside);
        try
        {
            await IpAsync("netns", "add", ns.Name);
            await IpAsync("link", "add", ns.HostLink, "type", "veth", "peer", "name", $"tan{id}");
            await IpAsync("link", "set", $"tan{id}", "netns", ns.Name);
            await IpAsync("addr", "add", $"{host}/30", "dev", ns.HostLink);
            await IpAsync("link", "set", ns.HostLink, "up");
            await IpAsync("netns", "exec", ns.Name, "ip", "addr", "add", $"{inside}/30", "dev", $"tan{id}");
            await IpAsync("netns", "exec", ns.Name, "ip", "link", "set", $"tan{id}", "up");
            await IpAsync("netns", "exec", ns.Name, "ip", "link", "set", "lo", "up");
        }
        catch
        {
            await ns.DisposeAsync();
            throw;
        }
        return ns;
    }

    /// <summary>Takes the link between the namespace and this one down, or up again (its addresses stay).</summary>
    public Task SetLinkAsync(bool up) => IpAsync("link", "set", HostLink, up ? "up" : "down");

    /// <summary>Why tests that make namespaces cannot run here (they need root and iproute2), or null when they can.</summary>
    public static string? CannotCreate { get; } = !OperatingSystem.IsLinux() ? "network namespaces need Linux"
        : Environment.UserName != "root" ? "creating network namespaces needs root"
        : !(Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(dir => File.Exists(Path.Combine(dir, "ip"))) ? "'ip' is not installed (apt-get install iproute2)"
        : null;

    /// <summary>Starts a program inside the namespace.</summary>
    public Process Start(string program, params string[] args)
    {
        var process = Command.Start("ip", ["netns", "exec", Name, program, .. args], discardOutput: true);
        _processes.Add(process);
        return process;
    }

    /// <summary>Waits until a process in the namespace has bound the UDP port (read from its namespace's socket table).</summary>
    public static Task<bool> WaitForUdpAsync(Process process, int port) =>
        BoundSockets.EventuallyAsync(() => process.HasExited || BoundSockets.InTable($"/proc/{process.Id}/net/udp", port, listeningOnly: false),
            TimeSpan.FromSeconds(10));

    /// <summary>Waits until a process in the namespace listens on the TCP port.</summary>
    public static Task<bool> WaitForTcpListenAsync(Process process, int port) =>
        BoundSockets.EventuallyAsync(() => process.HasExited || BoundSockets.InTable($"/proc/{process.Id}/net/tcp", port, listeningOnly: true),
            TimeSpan.FromSeconds(10));

    /// <summary>Waits until a process in the namespace has an established TCP connection to the remote port.</summary>
    public static Task<bool> WaitForTcpConnectedAsync(Process process, int remotePort) =>
        BoundSockets.EventuallyAsync(() => process.HasExited || BoundSockets.ConnectedTo($"/proc/{process.Id}/net/tcp", remotePort),
            TimeSpan.FromSeconds(10));

    private static Task IpAsync(params string[] args) => Command.SucceedAsync(TimeSpan.FromSeconds(30), "ip", args);

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            if (!process.HasExited) process.Kill();
            await process.WaitForExitAsync();
            process.Dispose();
        }
        // Deleting the namespace destroys the veth pair with it.
        await Command.RunAsync(TimeSpan.FromSeconds(30), "ip", ["netns", "del", Name]);
    }
}

/// <summary>A fact that needs root, iproute2 and udptunnel: skipped without them, except under CI, where it must run.</summary>
public sealed class InteropFactAttribute : Xunit.FactAttribute
{
    public InteropFactAttribute()
    {
        if (NetworkNamespace.Unavailable is { } why && Environment.GetEnvironmentVariable("CI") != "true")
            Skip = $"{why}; CI installs it and runs this test";
    }
}

/// <summary>A fact that needs root and iproute2 to make network namespaces: skipped without them, except under CI, where it must run.</summary>
public sealed class NamespaceFactAttribute : Xunit.FactAttribute
{
    public NamespaceFactAttribute()
    {
        if (NetworkNamespace.CannotCreate is { } why && Environment.GetEnvironmentVariable("CI") != "true")
            Skip = $"{why}; CI runs this test as root";
    }
}
