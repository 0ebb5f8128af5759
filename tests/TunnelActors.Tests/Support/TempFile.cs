namespace TunnelActors.Tests.Support;

/// <summary>A file for one test (a configuration, a key), readable by its owner only, deleted after it.</summary>
public sealed class TempFile : IDisposable
{
    public TempFile(string text)
    {
        Path = System.IO.Path.GetTempFileName();
        File.WriteAllText(Path, text);
    }

    public string Path { get; }

    public void Dispose() => File.Delete(Path);
}
