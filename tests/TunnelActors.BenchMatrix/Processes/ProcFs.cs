using System.Globalization;

namespace TunnelActors.BenchMatrix.Processes;

/// <summary>What Linux's /proc tells about a process: CPU time, peak memory, children.</summary>
internal static class ProcFs
{
    private static readonly Lazy<int> ClockTicksPerSecond = new(() => int.Parse(Command.Output("getconf", "CLK_TCK").Trim(), CultureInfo.InvariantCulture));

    /// <summary>User + system CPU seconds of the process and its live descendants; 0 for one that is gone.</summary>
    public static double CpuSeconds(int pid) => WithDescendants(pid).Sum(OwnCpuTicks) / (double)ClockTicksPerSecond.Value;

    /// <summary>
    /// CPU seconds of each of the process's threads by name (threads of one name, such as .NET's socket threads,
    /// together): where a side's CPU goes, and over how many threads it is spread.
    /// </summary>
    public static Dictionary<string, double> ThreadCpuSeconds(int pid)
    {
        var byName = new Dictionary<string, double>();
        var tasks = $"/proc/{pid}/task";
        if (!Directory.Exists(tasks)) return byName;
        foreach (var task in Directory.EnumerateDirectories(tasks))
        {
            if (Read(Path.Combine(task, "comm"))?.Trim() is not { } name || Read(Path.Combine(task, "stat")) is not { } stat) continue;
            byName[name] = byName.GetValueOrDefault(name) + CpuTicks(stat) / (double)ClockTicksPerSecond.Value;
        }
        return byName;
    }

    /// <summary>Peak resident set (VmHWM) of the process and its live descendants, KiB.</summary>
    public static long PeakRssKib(int pid) => WithDescendants(pid).Sum(p => StatusField(p, "VmHWM:"));

    private static long OwnCpuTicks(int pid) => Read($"/proc/{pid}/stat") is { } stat ? CpuTicks(stat) : 0;

    private static long CpuTicks(string stat)
    {
        // Fields after the command name, which is in parentheses and may hold spaces: state is field 3, utime 14, stime 15.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    }

    private static long StatusField(int pid, string name)
    {
        var line = Read($"/proc/{pid}/status")?.Split('\n').FirstOrDefault(l => l.StartsWith(name, StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line[name.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }

    private static IEnumerable<int> WithDescendants(int pid)
    {
        yield return pid;
        foreach (var child in Children(pid))
        foreach (var descendant in WithDescendants(child))
            yield return descendant;
    }

    private static IEnumerable<int> Children(int pid)
    {
        var tasks = $"/proc/{pid}/task";
        if (!Directory.Exists(tasks)) return [];
        return Directory.EnumerateDirectories(tasks)
            .Select(task => Read(Path.Combine(task, "children")) ?? "")
            .SelectMany(children => children.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(child => int.Parse(child, CultureInfo.InvariantCulture))
            .Distinct()
            .ToList();
    }

    private static string? Read(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // the process has just exited
        }
    }
}
