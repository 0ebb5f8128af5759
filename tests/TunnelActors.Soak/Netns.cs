using System.Diagnostics;
using System.Net;

namespace TunnelActors.Soak;

/// <summary>A network namespace of the soak's own, joined to this one by a veth pair (198.18.0.0/15, benchmarking addresses).</summary>
internal sealed class Netns : IDisposable
{
    private Netns(string name, string hostLink, int subnet)
    {
        Name = name;
        HostLink = hostLink;
        HostAddress = IPAddress.Parse($"198.18.{subnet}.1");
        InsideAddress = IPAddress.Parse($"198.18.{subnet}.2");
    }

    public string Name { get; }
    private string HostLink { get; }
    public IPAddress HostAddress { get; }
    public IPAddress InsideAddress { get; }

    public static Netns Create()
    {
        var id = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3));
        var ns = new Netns($"soak-{id}", $"soakh{id}", System.Security.Cryptography.RandomNumberGenerator.GetInt32(0, 256));
        Ip("netns", "add", ns.Name);
        Ip("link", "add", ns.HostLink, "type", "veth", "peer", "name", $"soakn{id}");
        Ip("link", "set", $"soakn{id}", "netns", ns.Name);
        Ip("addr", "add", $"{ns.HostAddress}/30", "dev", ns.HostLink);
        Ip("link", "set", ns.HostLink, "up");
        Ip("netns", "exec", ns.Name, "ip", "addr", "add", $"{ns.InsideAddress}/30", "dev", $"soakn{id}");
        Ip("netns", "exec", ns.Name, "ip", "link", "set", $"soakn{id}", "up");
        Ip("netns", "exec", ns.Name, "ip", "link", "set", "lo", "up");
        return ns;
    }

    /// <summary>Takes the link to the namespace down or up; addresses stay.</summary>
    public void SetLink(bool up) => Ip("link", "set", HostLink, up ? "up" : "down");

    public static void Ip(params string[] args)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"ip {string.Join(' ', args)}: {error.Trim()}");
    }

    public void Dispose()
    {
        try { Ip("netns", "del", Name); } catch (InvalidOperationException) { }
    }
}
