using TunnelActors.BenchMatrix.Processes;

namespace TunnelActors.BenchMatrix;

/// <summary>
/// A key for the seed orientation, for a build whose UDP-listen + TCP-listen side refuses to start without one:
/// made with <c>tunnelactors keygen</c> into a file only its owner can read, deleted afterwards.
/// </summary>
internal sealed class PreSharedKey : IDisposable
{
    private PreSharedKey(string path) => Path = path;

    public string Path { get; }

    /// <summary>A key file when <c>tunnelactors run --help</c> offers <c>--psk-file</c>, else null.</summary>
    public static PreSharedKey? CreateIfAsked(string tunnelActorsDll)
    {
        if (!Command.Output("dotnet", tunnelActorsDll, "run", "--help").Contains("--psk-file", StringComparison.Ordinal)) return null;
        var (exit, key, error) = Command.Run("dotnet", tunnelActorsDll, "keygen");
        if (exit != 0 || key.Trim().Length == 0) throw new InvalidOperationException($"tunnelactors keygen failed: {error.Trim()}");
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"tunnelactors-bench-{Guid.NewGuid():N}.key");
        using (var file = new FileStream(path, new FileStreamOptions
               {
                   Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
               }))
        using (var writer = new StreamWriter(file))
            writer.Write(key);
        return new PreSharedKey(path);
    }

    public void Dispose() => File.Delete(Path);
}
