using System.Diagnostics;
using System.Text.Json.Nodes;
using TunnelActors.BenchMatrix.Paths;

namespace TunnelActors.BenchMatrix;

/// <summary>Runs <c>tunnelactors bench load --json</c> once and returns its JSON line.</summary>
internal sealed class LoadRunner(Tools tools, MatrixOptions options)
{
    public async Task<JsonObject> RunAsync(RunningPath path, int peers, int size, string rate, CancellationToken cancellation)
    {
        string[] args =
        [
            "bench", "load", "--target", path.Target.ToString(), "--peers", $"{peers}", "--size", $"{size}", "--rate", rate,
            "--window", $"{MatrixOptions.Window(peers)}", "--duration", $"{options.DurationSeconds}", "--warmup", $"{options.WarmupSeconds}",
            "--json", "--quiet", .. path.LoadArguments,
        ];
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in tools.TunnelActors(args)) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.WarmupSeconds + options.DurationSeconds + 60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            cancellation.ThrowIfCancellationRequested();
            throw new TimeoutException($"bench load did not finish: {string.Join(' ', args)}");
        }
        var line = (await stdout).Trim();
        if (process.ExitCode != 0 || line.Length == 0)
            throw new InvalidOperationException($"bench load exited {process.ExitCode}: {(await stderr).Trim()}");
        return JsonNode.Parse(line)!.AsObject();
    }
}
