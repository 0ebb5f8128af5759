using System.Text.RegularExpressions;
using Xunit;

namespace TunnelActors.Tests.Configuration;

/// <summary>The product library's folders are its namespaces, and they use each other in one direction only.</summary>
public sealed class SourceLayoutTests
{
    private static readonly string Library = Path.Combine(Packaging.BuiltPackages.Repository, "src", "TunnelActors");

    private static IEnumerable<(string File, string Namespace, string Text)> Sources() =>
        Directory.EnumerateFiles(Library, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .Select(f => (f, Regex.Match(File.ReadAllText(f), @"^namespace ([\w.]+);", RegexOptions.Multiline).Groups[1].Value, File.ReadAllText(f)));

    [Fact]
    public void Every_file_is_in_the_namespace_of_its_folder()
    {
        foreach (var (file, ns, _) in Sources())
        {
            var folder = Path.GetRelativePath(Library, Path.GetDirectoryName(file)!);
            var expected = folder == "." ? "TunnelActors" : "TunnelActors." + folder.Replace(Path.DirectorySeparatorChar, '.');
            Assert.True(ns == expected, $"{Path.GetRelativePath(Library, file)} is in namespace {ns}, its folder says {expected}");
        }
    }

    [Fact]
    public void No_folder_uses_another_that_uses_it_back_even_by_way_of_others()
    {
        var uses = new Dictionary<string, HashSet<string>>();
        foreach (var (_, ns, text) in Sources())
        {
            if (!uses.TryGetValue(ns, out var set)) uses[ns] = set = [];
            foreach (Match used in Regex.Matches(text, @"^using (TunnelActors[\w.]*);", RegexOptions.Multiline))
                if (used.Groups[1].Value != ns) set.Add(used.Groups[1].Value);
        }
        foreach (var start in uses.Keys)
        {
            // Every namespace reachable from this one must not lead back to it.
            var seen = new HashSet<string>();
            var path = new Dictionary<string, string>();
            var next = new Queue<string>(uses[start]);
            foreach (var first in uses[start]) path[first] = start;
            while (next.TryDequeue(out var ns))
            {
                if (ns == start)
                {
                    var cycle = new List<string> { start };
                    for (var at = path[start]; at != start; at = path[at]) cycle.Add(at);
                    Assert.Fail($"{start} uses itself by way of {string.Join(" <- ", cycle)}");
                }
                if (!seen.Add(ns) || !uses.TryGetValue(ns, out var further)) continue;
                foreach (var f in further)
                {
                    path.TryAdd(f, ns);
                    next.Enqueue(f);
                }
            }
        }
    }
}
