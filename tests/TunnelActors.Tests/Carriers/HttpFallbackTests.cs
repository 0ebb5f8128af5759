using System.Net;
using TunnelActors.Tests.Support;
using TunnelActors.Tools.Demo;
using Xunit;

namespace TunnelActors.Tests.Carriers;

/// <summary>
/// A listening side that owns the port a website was on: every connection that is not a proven tunnel connection goes,
/// byte for byte, to the website behind it (Debian's nginx, plain HTTP), while tunnels run beside it.
/// </summary>
public sealed class HttpFallbackTests : IDisposable
{
    private static readonly (string, string) Patient = ("tunnel.tcp.max-queue-delay", "5s");
    private readonly TestPki _pki = new();
    private readonly UdpEcho _echo = new(new IPEndPoint(IPAddress.Loopback, 0));
    private readonly TempFile _key = new(TunnelActors.Auth.PreSharedKey.Generate());

    [NginxFact]
    public async Task Direct_wss_hands_the_website_to_curl_byte_for_byte_at_root_and_at_the_tunnel_path_and_a_wrong_key_to_it_too()
    {
        using var site = await Nginx.StartSiteAsync();
        var (cert, key, _) = _pki.Issue();
        await using var server = await Sides.StartAsync("fallback-wss-server", Patient, ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", _echo.LocalEndPoint.ToString()),
            ("tunnel.tls.cert-file", cert), ("tunnel.tls.key-file", key), ("tunnel.websocket.path", "/tunnel"), ("tunnel.auth.psk-file", _key.Path),
            ("tunnel.http-fallback.address", site.Endpoint.ToString()));
        await using var client = await Sides.StartAsync("fallback-wss-client", Patient, ("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", $"wss://localhost:{server.TcpEndpoint.Port}/tunnel"), ("tunnel.tls.ca-file", _pki.CaFile), ("tunnel.auth.psk-file", _key.Path));
        Assert.Empty(await Peers.EchoAsync(client.UdpEndpoint, 10, [1, 1200], rounds: 2));

        foreach (var path in new[] { "/", "/tunnel", "/tunnel?x=1", "/missing" })
            Assert.Equal(await CurlAsync($"http://127.0.0.1:{site.Port}{path}"), await CurlAsync($"https://localhost:{server.TcpEndpoint.Port}{path}"));
        Assert.StartsWith($"200 {Nginx.Page}", await CurlAsync($"https://localhost:{server.TcpEndpoint.Port}/"));

        // A dialer with another key: its upgrade request, proof and all, reaches the website, which has no such page.
        using var otherKey = new TempFile(TunnelActors.Auth.PreSharedKey.Generate());
        await using var stranger = await Sides.StartAsync("fallback-wss-stranger", Patient, ("tunnel.udp.forward", _echo.LocalEndPoint.ToString()),
            ("tunnel.tcp.connect", $"wss://localhost:{server.TcpEndpoint.Port}/tunnel"), ("tunnel.tls.ca-file", _pki.CaFile), ("tunnel.auth.psk-file", otherKey.Path),
            ("tunnel.tcp.pool-size", "1"));
        await Eventually.TrueAsync(() => site.AccessLog.Split('\n').Any(line => line.Contains("\"GET /tunnel HTTP/1.1\" 404") && !line.Contains("curl/")),
            TimeSpan.FromSeconds(20), () => site.AccessLog);
    }

    [NginxFact]
    public async Task Keyed_tls_and_plain_listeners_hand_a_browser_to_the_website_while_tunnels_run()
    {
        using var site = await Nginx.StartSiteAsync();
        var (cert, key, _) = _pki.Issue();
        await using var tls = await Sides.StartAsync("fallback-tls-server", Patient, ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", _echo.LocalEndPoint.ToString()),
            ("tunnel.tls.cert-file", cert), ("tunnel.tls.key-file", key), ("tunnel.auth.psk-file", _key.Path), ("tunnel.http-fallback.address", site.Endpoint.ToString()));
        await using var tlsClient = await Sides.StartAsync("fallback-tls-client", Patient, ("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", $"tls://localhost:{tls.TcpEndpoint.Port}"), ("tunnel.tls.ca-file", _pki.CaFile), ("tunnel.auth.psk-file", _key.Path));
        await using var plain = await Sides.StartAsync("fallback-plain-server", Patient, ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", _echo.LocalEndPoint.ToString()),
            ("tunnel.auth.psk-file", _key.Path), ("tunnel.http-fallback.address", site.Endpoint.ToString()));
        await using var plainClient = await Sides.StartAsync("fallback-plain-client", Patient, ("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", plain.TcpEndpoint.ToString()), ("tunnel.auth.psk-file", _key.Path));

        Assert.Empty(await Peers.EchoAsync(tlsClient.UdpEndpoint, 10, [1, 1200], rounds: 2));
        Assert.Empty(await Peers.EchoAsync(plainClient.UdpEndpoint, 10, [1, 1200], rounds: 2));
        foreach (var path in new[] { "/", "/missing" })
        {
            var direct = await CurlAsync($"http://127.0.0.1:{site.Port}{path}");
            Assert.Equal(direct, await CurlAsync($"https://localhost:{tls.TcpEndpoint.Port}{path}"));
            Assert.Equal(direct, await CurlAsync($"http://127.0.0.1:{plain.TcpEndpoint.Port}{path}"));
        }
        Assert.Empty(await Peers.EchoAsync(tlsClient.UdpEndpoint, 10, [1, 1200]));
    }

    /// <summary>The status and the body, as curl gets them.</summary>
    private async Task<string> CurlAsync(string url) =>
        (await Command.SucceedAsync(TimeSpan.FromSeconds(30), "curl", "--silent", "--show-error", "--cacert", _pki.CaFile, "--write-out", "%{http_code} ", "--output", "-", url)) is var outcome
            ? $"{outcome.Stdout[^4..]}{outcome.Stdout[..^4]}"
            : "";

    public void Dispose()
    {
        _echo.Dispose();
        _pki.Dispose();
        _key.Dispose();
    }
}
