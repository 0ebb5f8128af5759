using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace TunnelActors.Soak;

/// <summary>A tunnelactors process of the soak (a side or the echo), its log appended to a file, stopped by its own PID.</summary>
internal sealed partial class SideProcess : IDisposable
{
    private readonly Process _process;

    private SideProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;

    public static SideProcess Start(string name, TextWriter log, string? netns, string dll, params string[] args)
    {
        var start = new ProcessStartInfo(netns is null ? "dotnet" : "ip")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        if (netns is not null) foreach (var arg in new[] { "netns", "exec", netns, "dotnet" }) start.ArgumentList.Add(arg);
        start.ArgumentList.Add(dll);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start dotnet");
        void Log(string? line)
        {
            if (line is null) return;
            lock (log) log.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} [{name} {process.Id}] {line}");
        }
        process.OutputDataReceived += (_, e) => Log(e.Data);
        process.ErrorDataReceived += (_, e) => Log(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new SideProcess(name, process);
    }

    /// <summary>Resident memory, KiB; 0 once gone.</summary>
    public long RssKib => Status("VmRSS:");

    /// <summary>Open file descriptors (sockets included); 0 once gone.</summary>
    public int OpenFiles
    {
        get
        {
            try { return Directory.GetFiles($"/proc/{Pid}/fd").Length; }
            catch (IOException) { return 0; }
            catch (UnauthorizedAccessException) { return 0; }
        }
    }

    private long Status(string field)
    {
        try
        {
            var line = File.ReadLines($"/proc/{Pid}/status").FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(Number().Match(line).Value, CultureInfo.InvariantCulture);
        }
        catch (IOException) { return 0; }
    }

    public void Kill()
    {
        _process.Kill();
        _process.WaitForExit();
    }

    public void Stop()
    {
        if (_process.HasExited) return;
        using (var term = Process.Start("kill", ["-TERM", Pid.ToString(CultureInfo.InvariantCulture)])) term.WaitForExit();
        if (!_process.WaitForExit(TimeSpan.FromSeconds(10))) Kill();
    }

    public void Dispose()
    {
        if (!_process.HasExited) Kill();
        _process.Dispose();
    }

    [GeneratedRegex(@"\d+")]
    private static partial Regex Number();
}
