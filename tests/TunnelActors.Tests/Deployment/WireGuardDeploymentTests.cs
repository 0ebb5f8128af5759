using TunnelActors.Tests.Packaging;
using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors.Auth;

namespace TunnelActors.Tests.Deployment;

/// <summary>
/// The guide's WireGuard-over-TCP-443 client, in network namespaces of the test's own: wg-quick's routing for
/// <c>AllowedIPs = 0.0.0.0/0</c> (here into a <c>wg0</c> that leads nowhere) would swallow the tunnel's
/// own TCP connection to the server; the guide's <c>PostUp</c> rule keeps it out, and the tunnel carries traffic.
/// </summary>
public sealed class WireGuardDeploymentTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [NamespaceFact]
    public async Task The_guides_ip_rule_keeps_the_tunnels_own_connection_out_of_wg_quicks_default_route()
    {
        await using var network = await WireGuardNetwork.CreateAsync();
        // What wg-quick sets up for AllowedIPs = 0.0.0.0/0 (table and mark 51820), with a link that leads nowhere
        // for wg0 (one end of a veth pair whose other end has no address).
        foreach (var command in new[]
                 {
                     "ip link add wg0 type veth peer name wg0-nowhere", "ip link set wg0 up", "ip link set wg0-nowhere up",
                     "ip -4 route add 0.0.0.0/0 dev wg0 table 51820",
                     "ip -4 rule add not fwmark 51820 table 51820", "ip -4 rule add table main suppress_prefixlength 0",
                 })
            await TestNetwork.SucceedAsync(network.Client, Guide.Words(command));
        Assert.Contains("dev wg0", await RouteToServer(network));

        var postUp = Guide.Lines("PostUp = ip rule add to 203.0.113.5/32", expected: 1)[0]["PostUp = ".Length..];
        await TestNetwork.SucceedAsync(network.Client, Guide.Words(postUp));
        Assert.Contains("dev eth0", await RouteToServer(network));

        // The two sides from hocon/server.hocon and client.hocon, on ports the test picks by binding port 0.
        using var key = new TempFile(TunnelActors.Auth.PreSharedKey.Generate());
        using var wireGuard = ProgramProcess.StartIn(network.Server, ["bench", "echo", "--bind", "127.0.0.1:0"], null);
        var echoAt = (await wireGuard.StandardError.ReadLineAsync().WaitAsync(Wait))!.Split("listening on ")[1].Split(',')[0];
        await using var server = SideProcess.StartIn(network.Server, "--config", Path.Combine(BuiltPackages.Repository, "hocon/server.hocon"),
            "--tcp-listen", "203.0.113.5:0", "--udp-forward", echoAt, "--psk-file", key.Path);
        var serverPort = await server.TcpPortAsync();
        await using var client = SideProcess.StartIn(network.Client, "--config", Path.Combine(BuiltPackages.Repository, "hocon/client.hocon"),
            "--udp-listen", "127.0.0.1:0", "--tcp-connect", $"203.0.113.5:{serverPort}", "--psk-file", key.Path);
        var clientPort = await client.UdpPortAsync();

        var load = await TestNetwork.RunAsync(network.Client, "dotnet", ProgramProcess.Program, "bench", "load",
            "--target", $"127.0.0.1:{clientPort}", "--peers", "2", "--rate", "100", "--duration", "1.5", "--warmup", "0.5");
        LoadReport.Parse(load.Stdout).AssertAllAnswered(atLeast: 150, load.Output);

        var preDown = Guide.Lines("PreDown = ip rule del to 203.0.113.5/32", expected: 1)[0]["PreDown = ".Length..];
        await TestNetwork.SucceedAsync(network.Client, Guide.Words(preDown));
        Assert.Contains("dev wg0", await RouteToServer(network));

        wireGuard.Kill();
        await wireGuard.WaitForExitAsync();
    }

    private static async Task<string> RouteToServer(WireGuardNetwork network) =>
        (await TestNetwork.SucceedAsync(network.Client, "ip", "route", "get", "203.0.113.5")).Stdout;
}
