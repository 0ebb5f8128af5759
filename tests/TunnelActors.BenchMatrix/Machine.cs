using System.Runtime.InteropServices;
using System.Security.Cryptography;
using TunnelActors.BenchMatrix.Paths;
using TunnelActors.BenchMatrix.Processes;

namespace TunnelActors.BenchMatrix;

/// <summary>The facts a reader needs to compare a report with another: machine, date, versions.</summary>
internal sealed record Machine(string Cpu, int Cores, string Memory, string Kernel, string Os, DateTimeOffset Date, IReadOnlyList<(string Tool, string Version)> Tools)
{
    public static Machine Describe(Tools tools) => new(
        ProcLine("/proc/cpuinfo", "model name") ?? RuntimeInformation.ProcessArchitecture.ToString(),
        Environment.ProcessorCount,
        ProcLine("/proc/meminfo", "MemTotal") ?? "?",
        File.ReadAllText("/proc/sys/kernel/osrelease").Trim(),
        File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))?["PRETTY_NAME=".Length..].Trim('"') ?? "?",
        DateTimeOffset.UtcNow,
        Versions(tools));

    private static List<(string, string)> Versions(Tools tools)
    {
        var versions = new List<(string, string)>
        {
            (".NET", RuntimeInformation.FrameworkDescription),
            ("tunnelactors", Command.Output("dotnet", tools.TunnelActorsDll, "--version").Trim()),
            ("udptunnel (Debian package)", Command.Output("dpkg-query", "-W", "-f=${Version}", "udptunnel").Trim() is { Length: > 0 } v ? v : "not installed"),
        };
        if (tools.CRelay is { } relay)
            versions.Add(("C relay (udpbench)", $"udpbench, sha256 {Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(relay)))[..16]}"));
        return versions;
    }

    private static string? ProcLine(string path, string key) =>
        File.ReadLines(path).FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal))?.Split(':', 2)[1].Trim();
}
