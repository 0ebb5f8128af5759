using System.Diagnostics;

namespace TunnelActors.Tests.Support;

/// <summary>Runs the built <c>tunnelactors.dll</c> as a real process.</summary>
public static class ProgramProcess
{
    public static string Program => Path.Combine(AppContext.BaseDirectory, "tunnelactors.dll");

    public static Process Start(params string[] args) => StartIn(null, args);

    /// <summary>Starts the program with these environment variables added to the test's own.</summary>
    public static Process StartWith(IReadOnlyDictionary<string, string> environment, params string[] args) => StartIn(null, args, environment);

    /// <summary>Starts the program inside a network namespace of the test's own (<c>ip netns exec</c> keeps the PID).</summary>
    public static Process StartIn(string? networkNamespace, params string[] args) => StartIn(networkNamespace, args, null);

    public static Process StartIn(string? networkNamespace, string[] args, IReadOnlyDictionary<string, string>? environment)
    {
        var start = new ProcessStartInfo(networkNamespace is null ? "dotnet" : "ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (networkNamespace is not null)
            foreach (var arg in new[] { "netns", "exec", networkNamespace, "dotnet" }) start.ArgumentList.Add(arg);
        start.ArgumentList.Add(Program);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        return Process.Start(start)!;
    }

    public static Task<Command.Outcome> RunAsync(TimeSpan timeout, params string[] args) => RunWithAsync(new Dictionary<string, string>(), timeout, args);

    public static Task<Command.Outcome> RunWithAsync(IReadOnlyDictionary<string, string> environment, TimeSpan timeout, params string[] args) =>
        Command.RunAsync(timeout, "dotnet", [Program, .. args], environment: environment);
}
