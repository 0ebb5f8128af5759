namespace TunnelActors.BenchMatrix.Paths;

/// <summary>The programs a run starts.</summary>
/// <param name="TunnelActorsDll">The published tunnelactors.dll: relay sides, echo and load.</param>
/// <param name="CRelay">udpbench's binary, for the C relay path; null leaves that path out.</param>
/// <param name="PskFile">A pre-shared key for the seed orientation, when this build asks for one.</param>
internal sealed record Tools(string TunnelActorsDll, string? CRelay, string? PskFile)
{
    public const string Udptunnel = "udptunnel";

    public IEnumerable<string> TunnelActors(params string[] args) => [TunnelActorsDll, .. args];
}
