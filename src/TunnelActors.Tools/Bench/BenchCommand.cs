using System.CommandLine;

namespace TunnelActors.Tools.Bench;

/// <summary><c>tunnelactors bench</c>: a load generator and an echo server to measure any UDP path with, relays included.</summary>
internal static class BenchCommand
{
    public static Command Build() => new("bench",
        "Measure a UDP path: 'bench echo' answers, 'bench load' sends from phantom peers and reports loss, misdelivery, rate and round trips. " +
        "Put a relay between them to measure it; build.ps1 bench runs the side-by-side matrix.")
    {
        EchoCommand.Build(),
        LoadCommand.Build(),
    };
}
