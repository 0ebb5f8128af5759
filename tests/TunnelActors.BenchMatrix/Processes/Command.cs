using System.Diagnostics;

namespace TunnelActors.BenchMatrix.Processes;

/// <summary>Short helper commands whose output is wanted (versions, keys, machine facts).</summary>
internal static class Command
{
    public static string Output(string program, params string[] args) => Run(program, args).Stdout;

    /// <summary>Runs to completion; a program that is missing or fails yields its error instead of throwing.</summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        try
        {
            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, stdout, stderr.Result);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, "", e.Message);
        }
    }
}
