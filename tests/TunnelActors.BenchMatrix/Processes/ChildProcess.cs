using System.Diagnostics;

namespace TunnelActors.BenchMatrix.Processes;

/// <summary>
/// A process this run started (an echo or a relay side): its output goes to a log, and it is stopped by its own
/// PID, SIGTERM first, SIGKILL if it does not exit in time.
/// </summary>
internal sealed class ChildProcess : IDisposable
{
    private static readonly TimeSpan GracePeriod = TimeSpan.FromSeconds(3);
    private readonly Process _process;

    private ChildProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;

    public static ChildProcess Start(string name, TextWriter log, string program, IEnumerable<string> args)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {program}");
        void Log(string? line)
        {
            if (line is null) return;
            lock (log) log.WriteLine($"[{name} {process.Id}] {line}");
        }
        process.OutputDataReceived += (_, e) => Log(e.Data);
        process.ErrorDataReceived += (_, e) => Log(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        lock (log) log.WriteLine($"[{name} {process.Id}] started: {program} {string.Join(' ', start.ArgumentList)}");
        return new ChildProcess(name, process);
    }

    public async Task StopAsync()
    {
        if (_process.HasExited) return;
        Command.Run("kill", "-TERM", _process.Id.ToString());
        using var grace = new CancellationTokenSource(GracePeriod);
        try
        {
            await _process.WaitForExitAsync(grace.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill();
        _process.Dispose();
    }
}
