using System.Net;
using TunnelActors.BenchMatrix.Processes;

namespace TunnelActors.BenchMatrix.Paths;

/// <summary>
/// One path set up for one run: the echo and the relay's two sides, each a fresh process, stopped by PID when
/// the run ends. Side 1 is the one the load talks to (UDP listen), side 2 the one next to the echo.
/// </summary>
internal sealed class RunningPath : IAsyncDisposable
{
    private readonly List<ChildProcess> _processes = new();

    public required IPEndPoint Target { get; init; }

    /// <summary>Extra arguments for the load (udptunnel answers one fixed address, where peer 0 must sit).</summary>
    public IReadOnlyList<string> LoadArguments { get; init; } = [];

    public ChildProcess? Side1 { get; set; }
    public ChildProcess? Side2 { get; set; }

    public ChildProcess Add(ChildProcess process)
    {
        _processes.Add(process);
        return process;
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = _processes.Count - 1; i >= 0; i--)
        {
            await _processes[i].StopAsync();
            _processes[i].Dispose();
        }
    }
}
