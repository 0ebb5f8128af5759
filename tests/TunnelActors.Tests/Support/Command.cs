using System.Diagnostics;

namespace TunnelActors.Tests.Support;

/// <summary>Runs a program to its end: exit code and output, or a <see cref="TimeoutException"/> after killing it.</summary>
public static class Command
{
    public sealed record Outcome(int ExitCode, string Stdout, string Stderr)
    {
        public string Output => Stdout + Stderr;
    }

    /// <summary>
    /// Starts a program that runs on while the test goes on, its standard streams redirected: read them, or pass
    /// <paramref name="discardOutput"/> so that a full pipe never blocks it. Stop it by its PID (<see cref="SignalAsync"/>).
    /// </summary>
    public static Process Start(string program, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null,
        string? workingDirectory = null, bool discardOutput = false)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? AppContext.BaseDirectory,
        };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        var process = Process.Start(start)!;
        if (discardOutput)
        {
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }
        return process;
    }

    public static async Task<Outcome> RunAsync(TimeSpan timeout, string program, IEnumerable<string> args, string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        using var process = Start(program, args, environment, workingDirectory);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish within {timeout}");
        }
        return new Outcome(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Runs it and fails the test unless it exits 0.</summary>
    public static async Task<Outcome> SucceedAsync(TimeSpan timeout, string program, params string[] args)
    {
        var outcome = await RunAsync(timeout, program, args);
        if (outcome.ExitCode != 0)
            throw new Xunit.Sdk.XunitException($"{program} {string.Join(' ', args)} exited {outcome.ExitCode}: {outcome.Output}");
        return outcome;
    }

    /// <summary>Sends a signal (TERM, INT, KILL…) to a process the test started, by its PID.</summary>
    public static async Task SignalAsync(Process process, string signal) =>
        await SucceedAsync(TimeSpan.FromSeconds(10), "kill", "-" + signal, process.Id.ToString());

    /// <summary>The path of <paramref name="program"/> on the PATH, or null.</summary>
    public static string? Find(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Select(directory => Path.Combine(directory, program)).FirstOrDefault(File.Exists);
}
