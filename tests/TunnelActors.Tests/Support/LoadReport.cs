using System.Text.RegularExpressions;
using Xunit;
using TunnelActors.Tools.Bench.Load;

namespace TunnelActors.Tests.Support;

/// <summary>The counts <c>tunnelactors bench load</c> prints.</summary>
public sealed record LoadReport(long Sent, long Received, long Lost, long Misdelivered, long ForeignSource)
{
    public static LoadReport Parse(string output)
    {
        var counts = Regex.Match(output, @"sent (\d+)\s+received (\d+)\s+lost (\d+).*misdelivered (\d+)");
        var foreign = Regex.Match(output, @"foreign source (\d+)");
        Assert.True(counts.Success && foreign.Success, $"not a bench load report: {output}");
        return new LoadReport(long.Parse(counts.Groups[1].Value), long.Parse(counts.Groups[2].Value), long.Parse(counts.Groups[3].Value),
            long.Parse(counts.Groups[4].Value), long.Parse(foreign.Groups[1].Value));
    }

    /// <summary>At least <paramref name="atLeast"/> sent, every one answered, to the peer that sent it, from the address it was sent to.</summary>
    public void AssertAllAnswered(long atLeast, string output)
    {
        Assert.True(Sent >= atLeast, output);
        Assert.True(Received == Sent && Misdelivered == 0 && ForeignSource == 0, output);
    }
}
