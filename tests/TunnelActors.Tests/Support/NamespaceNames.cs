namespace TunnelActors.Tests.Support;

/// <summary>
/// Names of the network namespaces tests make, with the test process's ID in them, so that those of a test process
/// killed before it could delete them (a hang timeout, Ctrl+C) are deleted when the next one makes its first.
/// </summary>
public static class NamespaceNames
{
    private const string Prefix = "ta-p";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private static readonly Lazy<Task> LeftOversRemoved = new(RemoveLeftOversAsync);

    /// <summary>A name for a new namespace, once those a dead test process left are gone.</summary>
    public static async Task<string> NewAsync(string tag)
    {
        await LeftOversRemoved.Value;
        return $"{Prefix}{Environment.ProcessId}-{tag}";
    }

    /// <summary>The process that made <paramref name="name"/>, if one of these did.</summary>
    public static int? Owner(string name) =>
        name.StartsWith(Prefix) && int.TryParse(name[Prefix.Length..].Split('-')[0], out var pid) ? pid : null;

    private static async Task RemoveLeftOversAsync()
    {
        var list = await Command.SucceedAsync(Wait, "ip", "netns", "list");
        foreach (var line in list.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = line.Split(' ')[0];
            if (Owner(name) is { } pid && !Directory.Exists($"/proc/{pid}"))
                await Command.RunAsync(Wait, "ip", ["netns", "del", name]);
        }
    }
}
