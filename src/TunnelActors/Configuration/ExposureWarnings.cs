using System.Net;

namespace TunnelActors.Configuration;

/// <summary>What a side logs at start when its settings leave it more open than its owner may think.</summary>
public static class ExposureWarnings
{
    public static IReadOnlyList<string> For(TunnelSettings settings)
    {
        var warnings = new List<string>();
        if (settings.Auth.Key?.ReadableByGroup is { } group)
            warnings.Add($"The key file is readable by group {group}, which this side does not run as (tunnel.auth.psk-file): chmod 600 it");
        if (settings.Auth.Key is null && settings.Tcp.Role == TcpRole.Listen && !IPAddress.IsLoopback(settings.Tcp.Endpoint.Address)
            && settings.Tcp.Allow.IsEmpty)
            warnings.Add($"Tunnel connections on {settings.Tcp.Endpoint} are not authenticated: anyone who reaches it is taken as " +
                         "the far side (tunnel.auth.psk-file, tunnel.tcp.allow; docs/security.md)");
        return warnings;
    }
}
