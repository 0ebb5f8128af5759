using System.Text.RegularExpressions;
using TunnelActors.Tests.Packaging;
using TunnelActors.Tests.Support;
using Xunit;

namespace TunnelActors.Tests.Deployment;

/// <summary>
/// The seed deployment as the operator's guide sets it up, in four network namespaces of the test's own (client,
/// NAT box, relay host, POP) with the guide's documentation addresses, which exist nowhere else: the guide's
/// nftables rules, verbatim from docs/operations.md, on the NAT box; the example configurations from hocon/.
/// The ports are the deployment's own (5072, 5073, 9999): the rules name them, and each namespace is new.
/// </summary>
public sealed class SeedDeploymentTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [DeploymentFact]
    public async Task The_guides_rules_take_the_clients_datagrams_to_the_POP_and_every_reply_back_from_the_POPs_address()
    {
        await using var network = await SeedNetwork.CreateAsync();
        // A NAT box whose input filter drops what it does not list, then the guide's rules and its two accepts.
        using var dropping = new TempFile("table inet filter {\n  chain input {\n    type filter hook input priority filter; policy drop;\n" +
                                          "    iif lo accept\n    ct state established,related accept\n  }\n}\n");
        await Command.SucceedAsync(Wait, "ip", "netns", "exec", network.NatBox, "nft", "-f", dropping.Path);
        using var rules = new TempFile(GuideRuleset());
        await Command.SucceedAsync(Wait, "ip", "netns", "exec", network.NatBox, "nft", "-f", rules.Path);
        foreach (var accept in GuideLines("nft add rule inet filter input iifname"))
            await Command.SucceedAsync(Wait, "ip", ["netns", "exec", network.NatBox, .. accept.Split(' ', StringSplitOptions.RemoveEmptyEntries)]);
        using var key = new TempFile(TunnelActors.Auth.PreSharedKey.Generate());

        var repository = BuiltPackages.Repository;
        await using var nat = SideProcess.StartIn(network.NatBox, "--config", Path.Combine(repository, "hocon/seed-nat.hocon"),
            "--udp-listen", "192.168.99.1:5073", "--psk-file", key.Path);
        Assert.Equal(5073, await nat.UdpPortAsync());
        Assert.Equal(9999, await nat.TcpPortAsync());
        using var pop = ProgramProcess.StartIn(network.Pop, ["bench", "echo", "--bind", "198.51.100.40:5072"], null);
        Assert.Contains("listening on 198.51.100.40:5072", await pop.StandardError.ReadLineAsync().WaitAsync(Wait));
        // seed-relay.hocon already names the NAT box (192.0.2.10:9999) and the POP (198.51.100.40:5072).
        await using var relay = SideProcess.StartIn(network.Relay, "--config", Path.Combine(repository, "hocon/seed-relay.hocon"),
            "--psk-file", key.Path);
        await relay.LoggedAsync("Dialing 192.0.2.10:9999");

        // The client sends to the POP, as its AYIYA client would, from three phantom ports.
        var load = await Command.RunAsync(Wait, "ip", ["netns", "exec", network.Client, "dotnet", ProgramProcess.Program, "bench", "load",
            "--target", "198.51.100.40:5072", "--peers", "3", "--rate", "150", "--duration", "2", "--warmup", "0.5"]);
        var counts = Regex.Match(load.Stdout, @"sent (\d+)\s+received (\d+)\s+lost (\d+).*misdelivered (\d+)");
        Assert.True(counts.Success, load.Output);
        Assert.True(long.Parse(counts.Groups[1].Value) >= 300, load.Output);
        Assert.Equal(counts.Groups[1].Value, counts.Groups[2].Value);
        Assert.Equal("0", counts.Groups[4].Value);
        // Every reply came from the POP's address and port, not from the NAT box's 192.168.99.1:5073.
        Assert.Matches(@"foreign source 0\b", load.Stdout);
        await nat.LoggedAsync("Session started for peer 192.168.99.105:");

        pop.Kill();
        await pop.WaitForExitAsync();
    }

    /// <summary>The guide's commands that start with <paramref name="prefix"/>, quotes removed as the shell would.</summary>
    private static IEnumerable<string> GuideLines(string prefix)
    {
        var lines = File.ReadAllLines(Path.Combine(BuiltPackages.Repository, "docs/operations.md")).Select(l => l.Trim())
            .Where(l => l.StartsWith(prefix, StringComparison.Ordinal)).Select(l => l.Replace("\"", "")).ToList();
        Assert.Equal(2, lines.Count);
        return lines;
    }

    /// <summary>The ruleset the guide writes to /etc/nftables.d/tunnelactors-seed.nft.</summary>
    private static string GuideRuleset()
    {
        var guide = File.ReadAllLines(Path.Combine(BuiltPackages.Repository, "docs/operations.md"));
        var start = Array.FindIndex(guide, l => l.Contains("cat > /etc/nftables.d/tunnelactors-seed.nft <<'NFT'", StringComparison.Ordinal));
        Assert.True(start >= 0, "the guide's nft heredoc");
        var end = Array.FindIndex(guide, start + 1, l => l.Trim() == "NFT");
        return string.Join('\n', guide[(start + 1)..end].Select(l => l.StartsWith("    ", StringComparison.Ordinal) ? l[4..] : l)) + "\n";
    }
}

/// <summary>The seed deployment's four machines as network namespaces, wired as the guide's table says.</summary>
public sealed class SeedNetwork : IAsyncDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly string[] _names;

    private SeedNetwork(string id)
    {
        _names = [Client = $"ta-{id}-client", NatBox = $"ta-{id}-nat", Relay = $"ta-{id}-relay", Pop = $"ta-{id}-pop"];
    }

    public string Client { get; }
    public string NatBox { get; }
    public string Relay { get; }
    public string Pop { get; }

    public static async Task<SeedNetwork> CreateAsync()
    {
        var network = new SeedNetwork(Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3)));
        try
        {
            foreach (var name in network._names)
            {
                await Ip("netns", "add", name);
                await Ip("-n", name, "link", "set", "lo", "up");
            }
            await network.Link(network.Client, "eth0", "192.168.99.105/24", network.NatBox, "lan0", "192.168.99.1/24");
            await network.Link(network.NatBox, "wan0", "192.0.2.10/24", network.Relay, "eth0", "192.0.2.20/24");
            await network.Link(network.Relay, "eth1", "198.51.100.1/24", network.Pop, "eth0", "198.51.100.40/24");
            // The client believes the POP is on the Internet, past its NAT box.
            await Ip("-n", network.Client, "route", "add", "default", "via", "192.168.99.1");
        }
        catch
        {
            await network.DisposeAsync();
            throw;
        }
        return network;
    }

    private async Task Link(string a, string aName, string aAddress, string b, string bName, string bAddress)
    {
        await Ip("link", "add", aName, "netns", a, "type", "veth", "peer", "name", bName, "netns", b);
        await Ip("-n", a, "addr", "add", aAddress, "dev", aName);
        await Ip("-n", b, "addr", "add", bAddress, "dev", bName);
        await Ip("-n", a, "link", "set", aName, "up");
        await Ip("-n", b, "link", "set", bName, "up");
    }

    private static Task Ip(params string[] args) => Command.SucceedAsync(Wait, "ip", args);

    public async ValueTask DisposeAsync()
    {
        // Deleting a namespace destroys its ends of the links.
        foreach (var name in _names)
            await Command.RunAsync(Wait, "ip", ["netns", "del", name]);
    }
}

/// <summary>A fact that needs root, iproute2 and nftables: skipped without them, except under CI, where it must run.</summary>
public sealed class DeploymentFactAttribute : FactAttribute
{
    public DeploymentFactAttribute()
    {
        var why = NetworkNamespace.CannotCreate ?? (Command.Find("nft") is null ? "'nft' is not installed (apt-get install nftables)" : null);
        if (why is not null && Environment.GetEnvironmentVariable("CI") != "true") Skip = $"{why}; CI installs it and runs this test";
    }
}
