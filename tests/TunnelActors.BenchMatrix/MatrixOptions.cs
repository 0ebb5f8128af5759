using TunnelActors.BenchMatrix.Paths;

namespace TunnelActors.BenchMatrix;

/// <summary>What the matrix runs; the defaults are the full matrix.</summary>
internal sealed record MatrixOptions
{
    public static readonly MatrixOptions Full = new();

    public double DurationSeconds { get; init; } = 5;
    public double WarmupSeconds { get; init; } = 1;
    public int Repetitions { get; init; } = 3;
    public IReadOnlyList<int> Peers { get; init; } = [1, 100, 1000];
    public IReadOnlyList<int> Sizes { get; init; } = [64, 1200, 8192];

    /// <summary>"max" (closed loop) or datagrams per second (open loop).</summary>
    public IReadOnlyList<string> Rates { get; init; } = ["max", "10000"];

    public IReadOnlyList<RelayPath> Paths { get; init; } = RelayPaths.All;

    /// <summary>Closed loop: datagrams each peer keeps outstanding, so that all peers together keep at most 2,048 and never overflow the echo's socket buffer.</summary>
    public static int Window(int peers) => Math.Clamp(2048 / peers, 1, 32);

    public bool IsReduced =>
        DurationSeconds < Full.DurationSeconds || Repetitions < Full.Repetitions ||
        !Full.Peers.All(Peers.Contains) || !Full.Sizes.All(Sizes.Contains) || !Full.Rates.All(Rates.Contains) ||
        !Full.Paths.All(Paths.Contains);
}
