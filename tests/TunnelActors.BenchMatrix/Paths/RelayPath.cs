namespace TunnelActors.BenchMatrix.Paths;

/// <summary>The ways from the load generator to the echo that the matrix compares.</summary>
internal enum RelayPath
{
    /// <summary>No relay: the load talks to the echo.</summary>
    Direct,

    /// <summary>TunnelActors, side 1 UDP listen + TCP connect, side 2 TCP listen + UDP forward.</summary>
    TaMullvad,

    /// <summary>TunnelActors, side 1 UDP listen + TCP listen, side 2 TCP connect (pool) + UDP forward.</summary>
    TaSeed,

    /// <summary>Debian's udptunnel, client and server; RTP style, so every reply goes to one fixed port.</summary>
    Udptunnel,

    /// <summary>udpbench's reference relay in C; one peer per connection.</summary>
    CRelay,
}

internal static class RelayPaths
{
    public static readonly RelayPath[] All = Enum.GetValues<RelayPath>();

    public static string Name(this RelayPath path) => path switch
    {
        RelayPath.Direct => "direct",
        RelayPath.TaMullvad => "ta-mullvad",
        RelayPath.TaSeed => "ta-seed",
        RelayPath.Udptunnel => "udptunnel",
        RelayPath.CRelay => "c-relay",
        _ => throw new ArgumentOutOfRangeException(nameof(path)),
    };

    public static RelayPath Parse(string name)
    {
        foreach (var path in All)
            if (path.Name() == name.Trim()) return path;
        throw new ArgumentException($"unknown path '{name}' (known: {string.Join(", ", All.Select(p => p.Name()))})");
    }

    /// <summary>Whether the path can carry that many peers at all (the C relay answers only the last UDP source).</summary>
    public static bool Serves(this RelayPath path, int peers) => path != RelayPath.CRelay || peers == 1;
}
