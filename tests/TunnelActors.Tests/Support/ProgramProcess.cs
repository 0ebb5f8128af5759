using System.Diagnostics;

namespace TunnelActors.Tests.Support;

/// <summary>Runs the built <c>tunnelactors.dll</c> as a real process.</summary>
public static class ProgramProcess
{
    public static string Program => Path.Combine(AppContext.BaseDirectory, "tunnelactors.dll");

    /// <summary>The native launcher: the program as installed runs under this name (what <c>dotnet-counters -n</c> is given).</summary>
    public static string Launcher => Path.Combine(AppContext.BaseDirectory, "tunnelactors");

    public static Process Start(params string[] args) => StartIn(null, args);

    /// <summary>Starts the program with these environment variables added to the test's own.</summary>
    public static Process StartWith(IReadOnlyDictionary<string, string> environment, params string[] args) => StartIn(null, args, environment);

    /// <summary>Starts the program inside a network namespace of the test's own (<c>ip netns exec</c> keeps the PID).</summary>
    public static Process StartIn(string? networkNamespace, params string[] args) => StartIn(networkNamespace, args, null);

    public static Process StartIn(string? networkNamespace, string[] args, IReadOnlyDictionary<string, string>? environment) =>
        Launch(networkNamespace is null ? ["dotnet", Program, .. args] : ["ip", "netns", "exec", networkNamespace, "dotnet", Program, .. args], environment);

    /// <summary>Starts the native launcher rather than <c>dotnet tunnelactors.dll</c>.</summary>
    public static Process StartLauncher(params string[] args) => Launch([Launcher, .. args], null);

    private static Process Launch(string[] command, IReadOnlyDictionary<string, string>? environment) =>
        Command.Start(command[0], command[1..], environment);

    public static Task<Command.Outcome> RunAsync(TimeSpan timeout, params string[] args) => RunWithAsync(new Dictionary<string, string>(), timeout, args);

    public static Task<Command.Outcome> RunWithAsync(IReadOnlyDictionary<string, string> environment, TimeSpan timeout, params string[] args) =>
        Command.RunAsync(timeout, "dotnet", [Program, .. args], environment: environment);
}
