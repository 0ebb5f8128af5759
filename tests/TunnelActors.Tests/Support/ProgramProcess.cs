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

    /// <summary>A copy of the built program that any user can read and run, in a directory of its own; deleted on dispose.</summary>
    public sealed class Copy : IDisposable
    {
        private Copy(string directory) => Directory = directory;

        public string Directory { get; }

        public string Program => Path.Combine(Directory, "tunnelactors.dll");

        /// <summary>What a user without a home of its own needs to run dotnet: the copy's directory as its home.</summary>
        public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string> { ["HOME"] = Directory, ["DOTNET_CLI_HOME"] = Directory };

        public static async Task<Copy> MakeAsync()
        {
            var copy = new Copy(System.IO.Directory.CreateTempSubdirectory("tunnelactors-unprivileged-").FullName);
            try
            {
                foreach (var file in System.IO.Directory.GetFiles(AppContext.BaseDirectory))
                    File.Copy(file, Path.Combine(copy.Directory, Path.GetFileName(file)));
                await Command.SucceedAsync(TimeSpan.FromSeconds(60), "chmod", "-R", "a+rX", copy.Directory);
                return copy;
            }
            catch
            {
                copy.Dispose();
                throw;
            }
        }

        public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
    }

    public static Task<Command.Outcome> RunAsync(TimeSpan timeout, params string[] args) => RunWithAsync(new Dictionary<string, string>(), timeout, args);

    public static Task<Command.Outcome> RunWithAsync(IReadOnlyDictionary<string, string> environment, TimeSpan timeout, params string[] args) =>
        Command.RunAsync(timeout, "dotnet", [Program, .. args], environment: environment);
}
