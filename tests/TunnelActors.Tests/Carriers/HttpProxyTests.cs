using System.Net;
using System.Net.Sockets;
using TunnelActors.Tests.Support;
using TunnelActors.Tools.Demo;
using Xunit;

namespace TunnelActors.Tests.Carriers;

/// <summary>Dialing through Debian's squid with basic authentication: plain, TLS and WebSocket tunnels cross it; a wrong password and a proxy that is not there each end the side with a line that says so.</summary>
public sealed class HttpProxyTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    // These tests are about what crosses the carrier: a frame that waits longer than 200 ms (the default) for its write
    // is dropped by design, and a machine running the whole suite at once can stall a thread-pool completion that long.
    private static readonly (string, string) Patient = ("tunnel.tcp.max-queue-delay", "5s");
    private const string User = "tunnel";
    private const string Password = "s3cret:with@signs";
    private readonly UdpEcho _echo = new(new IPEndPoint(IPAddress.Loopback, 0));

    [SquidFact]
    public async Task Plain_tls_and_keyed_wss_tunnels_cross_an_authenticating_proxy()
    {
        using var squid = await Squid.StartAsync(User, Password);
        await using var server = await Sides.StartAsync("proxied-server", Patient, ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", _echo.LocalEndPoint.ToString()));
        await using var client = await Sides.StartAsync("proxied-client", Patient, ("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", server.TcpEndpoint.ToString()), ("tunnel.http-proxy", squid.Url(User, Password)));
        Assert.Empty(await Peers.EchoAsync(client.UdpEndpoint, 10, [1, 1200], rounds: 2));
        Assert.Equal(10, SideMetrics.Read("proxied-client", "connections.opened", ("origin", "dialed")));

        using var pki = new TestPki();
        var (cert, key, _) = pki.Issue();
        await using var tlsServer = await Sides.StartAsync("proxied-tls-server", Patient, ("tunnel.tcp.listen", "127.0.0.1:0"),
            ("tunnel.udp.forward", _echo.LocalEndPoint.ToString()), ("tunnel.tls.cert-file", cert), ("tunnel.tls.key-file", key));
        await using var tlsClient = await Sides.StartAsync("proxied-tls-client", Patient, ("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", $"tls://{tlsServer.TcpEndpoint}"), ("tunnel.tls.ca-file", pki.CaFile), ("tunnel.tls.server-name", "localhost"),
            ("tunnel.http-proxy", squid.Url(User, Password)));
        Assert.Empty(await Peers.EchoAsync(tlsClient.UdpEndpoint, 10, [1, 1200], rounds: 2));
        Assert.Equal(10, SideMetrics.Read("proxied-tls-client", "connections.opened", ("origin", "dialed"), ("carrier", "tls")));

        using var psk = new TempFile(TunnelActors.Auth.PreSharedKey.Generate());
        await using var wssServer = await Sides.StartAsync("proxied-wss-server", Patient, ("tunnel.tcp.listen", "127.0.0.1:0"),
            ("tunnel.udp.forward", _echo.LocalEndPoint.ToString()), ("tunnel.tls.cert-file", cert), ("tunnel.tls.key-file", key),
            ("tunnel.websocket.path", "/tunnel"), ("tunnel.auth.psk-file", psk.Path));
        await using var wssClient = await Sides.StartAsync("proxied-wss-client", Patient, ("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", $"wss://localhost:{wssServer.TcpEndpoint.Port}/tunnel"), ("tunnel.tls.ca-file", pki.CaFile),
            ("tunnel.auth.psk-file", psk.Path), ("tunnel.http-proxy", squid.Url(User, Password)));
        Assert.Empty(await Peers.EchoAsync(wssClient.UdpEndpoint, 10, [1, 1200], rounds: 2));
        Assert.Equal(10, SideMetrics.Read("proxied-wss-client", "connections.opened", ("origin", "dialed"), ("carrier", "wss")));
    }

    [SquidFact]
    public async Task A_wrong_password_is_refused_with_the_407_line_and_ends_the_side_after_max_retries()
    {
        using var squid = await Squid.StartAsync(User, Password);
        using var far = new TcpListener(IPAddress.Loopback, 0);
        far.Start();
        const string wrong = "not-the-Pa55word";
        var exit = await GiveUpAsync(squid.Url(User, wrong), (IPEndPoint)far.LocalEndpoint);
        Assert.Contains("407 Proxy Authentication Required' to CONNECT", exit.Log);
        Assert.Contains($"it refused the password of '{User}'", exit.Log);
        Assert.DoesNotContain(wrong, exit.Log);
    }

    [Fact]
    public async Task A_proxy_that_is_not_there_ends_the_side_with_a_line_that_says_so()
    {
        int closedPort;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            closedPort = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }
        var exit = await GiveUpAsync($"http://127.0.0.1:{closedPort}", new IPEndPoint(IPAddress.Loopback, 9));
        Assert.Contains($"cannot reach the HTTP proxy http://127.0.0.1:{closedPort}", exit.Log);
    }

    /// <summary>A relay host (it dials at start) through <paramref name="proxy"/>, two attempts: it must exit non-zero, having said why.</summary>
    private async Task<(int Code, string Log)> GiveUpAsync(string proxy, IPEndPoint far)
    {
        using var config = new TempFile("tunnel.tcp.reconnect { min-backoff = 100ms, max-backoff = 200ms, max-retries = 2 }");
        await using var side = SideProcess.StartWith(new Dictionary<string, string> { ["TUNNELACTORS_HTTP_PROXY"] = proxy },
            "--udp-forward", _echo.LocalEndPoint.ToString(), "--tcp-connect", far.ToString(), "--config", config.Path);
        using var timeout = new CancellationTokenSource(Wait);
        await side.WaitForExitAsync(timeout.Token);
        Assert.NotEqual(0, side.ExitCode);
        Assert.Contains("tunnel.tcp.reconnect.max-retries", side.Log);
        return (side.ExitCode, side.Log);
    }

    public void Dispose() => _echo.Dispose();
}
