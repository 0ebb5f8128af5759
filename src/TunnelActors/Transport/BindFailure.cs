using System.Globalization;
using System.Net;

namespace TunnelActors.Transport;

/// <summary>
/// Why a bind failed, as far as it can be told: Akka.IO's bind failure carries no cause, and the commonest
/// one that is not "in use" is a port below 1024 without the capability to bind it (a service unit without
/// its low-port drop-in).
/// </summary>
public static class BindFailure
{
    private const int NetBindService = 10;

    public static string Describe(string what, IPEndPoint endpoint) =>
        $"{what} {endpoint} ({(NeedsPrivilege(endpoint.Port) ? $"port {endpoint.Port} is below {UnprivilegedPortStart()}: it needs root or CAP_NET_BIND_SERVICE" : "address in use or not available")})";

    private static bool NeedsPrivilege(int port) =>
        port > 0 && port < UnprivilegedPortStart() && OperatingSystem.IsLinux() && !HasCapability(NetBindService);

    private static int UnprivilegedPortStart() =>
        int.TryParse(Read("/proc/sys/net/ipv4/ip_unprivileged_port_start")?.Trim(), out var start) ? start : 1024;

    private static bool HasCapability(int capability)
    {
        var line = Read("/proc/self/status")?.Split('\n').FirstOrDefault(l => l.StartsWith("CapEff:", StringComparison.Ordinal));
        return line is null || !ulong.TryParse(line["CapEff:".Length..].Trim(), NumberStyles.HexNumber, null, out var effective)
               || (effective & (1UL << capability)) != 0;
    }

    private static string? Read(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
