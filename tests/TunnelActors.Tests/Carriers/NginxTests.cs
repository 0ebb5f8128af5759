using System.Net;
using TunnelActors.Flow;
using TunnelActors.Tests.Support;
using TunnelActors.Tools.Demo;
using Xunit;

namespace TunnelActors.Tests.Carriers;

/// <summary>
/// The usual deployment of the WebSocket carrier: Debian's nginx terminates TLS on the listening host (a certificate
/// from a CA made in the test), serves a website at <c>/</c> and proxies <c>/tunnel</c> to a side listening with
/// <c>websocket.path</c> over plain HTTP; the far side dials <c>wss://</c>. Both topologies, fifty phantom peers.
/// </summary>
public sealed class NginxTests : IDisposable
{
    // These tests are about what crosses the carrier: a frame that waits longer than 200 ms (the default) for its write
    // is dropped by design, and a machine running the whole suite at once can stall a thread-pool completion that long.
    private static readonly (string, string) Patient = ("tunnel.tcp.max-queue-delay", "5s");
    private readonly TestPki _pki = new();
    private readonly UdpEcho _echo = new(new IPEndPoint(IPAddress.Loopback, 0));
    private readonly TempFile _key = new(TunnelActors.Auth.PreSharedKey.Generate());

    [NginxFact]
    public async Task The_seed_topology_runs_through_nginx_with_fifty_phantom_peers_and_the_website_stays_up()
    {
        var (cert, key, _) = _pki.Issue();
        // The NAT box: UDP and the WebSocket listener, behind nginx, which alone faces the relay host.
        await using var nat = await Sides.StartAsync("nginx-nat", Patient, ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.listen", "127.0.0.1:0"),
            ("tunnel.websocket.path", "/tunnel"), ("tunnel.auth.psk-file", _key.Path));
        using var nginx = await Nginx.StartAsync(cert, key, "/tunnel", nat.TcpEndpoint);
        await using var relay = await Sides.StartAsync("nginx-relay", Patient, ("tunnel.udp.forward", _echo.LocalEndPoint.ToString()),
            ("tunnel.tcp.connect", $"wss://localhost:{nginx.Port}/tunnel"), ("tunnel.tls.ca-file", _pki.CaFile), ("tunnel.auth.psk-file", _key.Path));

        var failures = await Peers.EchoAsync(nat.UdpEndpoint, 50, [1, 1200], rounds: 3);
        Assert.True(failures.Count == 0, $"{string.Join("; ", failures)}; nat: {SideResources.For(nat.System).Counters}; " +
                                         $"relay: {SideResources.For(relay.System).Counters}; nginx: {nginx.Log}");
        Assert.Equal(0, SideMetrics.Read("nginx-nat", "drops") + SideMetrics.Read("nginx-relay", "drops"));
        Assert.True(SideMetrics.Read("nginx-relay", "connections.opened", ("origin", "dialed"), ("carrier", "wss")) >= 50);
        Assert.Equal(Nginx.Page, await CurlAsync($"https://localhost:{nginx.Port}/"));
    }

    [NginxFact]
    public async Task The_mullvad_topology_runs_through_nginx_with_fifty_phantom_peers_and_the_website_stays_up()
    {
        var (cert, key, _) = _pki.Issue();
        await using var server = await Sides.StartAsync("nginx-server", Patient, ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", _echo.LocalEndPoint.ToString()),
            ("tunnel.websocket.path", "/tunnel"), ("tunnel.auth.psk-file", _key.Path));
        using var nginx = await Nginx.StartAsync(cert, key, "/tunnel", server.TcpEndpoint);
        await using var client = await Sides.StartAsync("nginx-client", Patient, ("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", $"wss://localhost:{nginx.Port}/tunnel"), ("tunnel.tls.ca-file", _pki.CaFile), ("tunnel.auth.psk-file", _key.Path));

        var failures = (await Peers.EchoAsync(client.UdpEndpoint, 50, [0, 1, 1200], rounds: 3))
            .Concat(await Peers.EchoInTurnAsync(client.UdpEndpoint, 2, [16000, 65000])).ToList();
        Assert.True(failures.Count == 0, $"{string.Join("; ", failures)}; client: {SideResources.For(client.System).Counters}; " +
                                         $"server: {SideResources.For(server.System).Counters}; nginx: {nginx.Log}");
        Assert.Equal(0, SideMetrics.Read("nginx-client", "drops") + SideMetrics.Read("nginx-server", "drops"));
        Assert.Equal(52, SideMetrics.Read("nginx-client", "connections.opened", ("origin", "dialed"), ("carrier", "wss")));
        Assert.Equal(52, SideMetrics.Read("nginx-server", "connections.opened", ("origin", "accepted"), ("carrier", "ws")));
        Assert.Equal(Nginx.Page, await CurlAsync($"https://localhost:{nginx.Port}/"));
    }

    private async Task<string> CurlAsync(string url) =>
        (await Command.SucceedAsync(TimeSpan.FromSeconds(30), "curl", "--silent", "--show-error", "--cacert", _pki.CaFile, url)).Stdout;

    public void Dispose()
    {
        _echo.Dispose();
        _pki.Dispose();
        _key.Dispose();
    }
}
