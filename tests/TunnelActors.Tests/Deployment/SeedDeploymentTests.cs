using TunnelActors.Tests.Packaging;
using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors.Auth;

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
        await TestNetwork.SucceedAsync(network.NatBox, "nft", "-f", dropping.Path);
        using var rules = new TempFile(Guide.HereDocument("/etc/nftables.d/tunnelactors-seed.nft", "NFT"));
        await TestNetwork.SucceedAsync(network.NatBox, "nft", "-f", rules.Path);
        foreach (var accept in Guide.Lines("nft add rule inet filter input iifname", expected: 2))
            await TestNetwork.SucceedAsync(network.NatBox, Guide.Words(accept));
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
        var load = await TestNetwork.RunAsync(network.Client, "dotnet", ProgramProcess.Program, "bench", "load",
            "--target", "198.51.100.40:5072", "--peers", "3", "--rate", "150", "--duration", "2", "--warmup", "0.5");
        // Every reply came back to its phantom port from the POP's address and port (not from the NAT box's
        // 192.168.99.1:5073: bench load counts those as foreign).
        LoadReport.Parse(load.Stdout).AssertAllAnswered(atLeast: 300, load.Output);
        await nat.LoggedAsync("Session started for peer 192.168.99.105:");

        pop.Kill();
        await pop.WaitForExitAsync();
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
