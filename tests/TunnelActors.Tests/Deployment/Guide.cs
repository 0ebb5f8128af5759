using TunnelActors.Tests.Packaging;
using Xunit;

namespace TunnelActors.Tests.Deployment;

/// <summary>Commands and files from the operator's guide (docs/operations.md), as an operator would copy them.</summary>
public static class Guide
{
    private static string[] Text => File.ReadAllLines(Path.Combine(BuiltPackages.Repository, "docs/operations.md"));

    /// <summary>The guide's lines that start with <paramref name="prefix"/> (indentation ignored), with the shell's quotes removed.</summary>
    public static IReadOnlyList<string> Lines(string prefix, int expected)
    {
        var lines = Text.Select(l => l.Trim()).Where(l => l.StartsWith(prefix, StringComparison.Ordinal)).Select(l => l.Replace("\"", "")).ToList();
        Assert.Equal(expected, lines.Count);
        return lines;
    }

    /// <summary>What the guide writes with <c>cat &gt; FILE &lt;&lt;'MARK'</c>.</summary>
    public static string HereDocument(string file, string mark)
    {
        var text = Text;
        var start = Array.FindIndex(text, l => l.Contains($"cat > {file} <<'{mark}'", StringComparison.Ordinal));
        Assert.True(start >= 0, $"the guide writes {file}");
        var end = Array.FindIndex(text, start + 1, l => l.Trim() == mark);
        return string.Join('\n', text[(start + 1)..end].Select(l => l.StartsWith("    ", StringComparison.Ordinal) ? l[4..] : l)) + "\n";
    }

    /// <summary>A command line as its words (the guide's commands quote nothing that holds a space).</summary>
    public static string[] Words(string command) => command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
}
