namespace TunnelActors.Hosting;

/// <summary>How a side writes its log to stderr.</summary>
public enum LogFormat
{
    /// <summary>Timestamped lines for people.</summary>
    Text,

    /// <summary>For systemd's journal: no timestamp (the journal keeps its own), a syslog priority prefix per line.</summary>
    Journal,

    /// <summary>One JSON object per line (Serilog's compact format) for log shippers.</summary>
    Json,
}

public static class LogFormats
{
    /// <summary>
    /// Journal when systemd's journal reads this process's stderr, else text. <c>JOURNAL_STREAM</c> alone is not
    /// enough: children inherit it, so it counts only when it names the stream stderr is
    /// (<paramref name="stderrTarget"/>: where <c>/proc/self/fd/2</c> points, <c>socket:[INODE]</c>).
    /// </summary>
    public static LogFormat Default(string? journalStream, string? stderrTarget) =>
        journalStream?.Split(':') is [_, var inode] && inode.Length > 0 && stderrTarget == $"socket:[{inode}]" ? LogFormat.Journal : LogFormat.Text;

    /// <summary><see cref="Default(string?, string?)"/> for this process.</summary>
    public static LogFormat Default()
    {
        string? stderr;
        try
        {
            stderr = new FileInfo("/proc/self/fd/2").LinkTarget;
        }
        catch (IOException)
        {
            stderr = null;
        }
        return Default(Environment.GetEnvironmentVariable("JOURNAL_STREAM"), stderr);
    }

    /// <summary>A line written straight to stderr (before or after the logger): in the journal, with its priority.</summary>
    public static string ErrorLine(LogFormat format, string line) => format == LogFormat.Journal ? "<3>" + line : line;
}
