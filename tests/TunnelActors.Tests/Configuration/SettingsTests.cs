using System.Net;
using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors.Auth;
using TunnelActors.Configuration;

namespace TunnelActors.Tests.Configuration;

public sealed class SettingsTests
{
    private static ConfigurationException Rejected(params (string, string)[] settings) =>
        Assert.Throws<ConfigurationException>(() => Sides.Configure(settings));

    private static readonly (string, string)[] Valid =
        [("tunnel.udp.listen", "127.0.0.1:5073"), ("tunnel.tcp.listen", "127.0.0.1:9999")];

    [Fact]
    public void Reads_roles_endpoints_and_defaults()
    {
        var settings = Sides.Configure(Valid).Settings;
        Assert.Equal(UdpRole.Listen, settings.Udp.Role);
        Assert.Equal(5073, settings.Udp.Endpoint.Port);
        Assert.Equal(TcpRole.Listen, settings.Tcp.Role);
        Assert.Equal(4, settings.Tcp.PoolSize);
        Assert.Equal(TimeSpan.FromSeconds(180), settings.Session.IdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(1), settings.Tcp.Reconnect.MinBackoff);
        Assert.Equal(TimeSpan.FromSeconds(30), settings.Tcp.Reconnect.MaxBackoff);
    }

    [Fact]
    public void An_idle_timeout_of_zero_means_never()
    {
        var settings = Sides.Configure([.. Valid, ("tunnel.session.idle-timeout", "0")]).Settings;
        Assert.Equal(TimeSpan.Zero, settings.Session.IdleTimeout);
    }

    [Fact]
    public void Parses_IPv6_and_names()
    {
        var settings = Sides.Configure(("tunnel.udp.forward", "[::1]:53"), ("tunnel.tcp.connect", "localhost:9999")).Settings;
        Assert.Equal(System.Net.IPAddress.IPv6Loopback, settings.Udp.Endpoint.Address);
        Assert.True(System.Net.IPAddress.IsLoopback(settings.Tcp.Endpoint.Address));
    }

    [Fact]
    public void No_role_for_a_transport_names_its_block() =>
        Assert.Equal("tunnel.udp", Rejected(("tunnel.tcp.listen", "127.0.0.1:1")).Key);

    [Fact]
    public void Two_roles_for_a_transport_names_its_block() =>
        Assert.Equal("tunnel.tcp", Rejected(("tunnel.udp.listen", "127.0.0.1:1"), ("tunnel.tcp.listen", "127.0.0.1:1"), ("tunnel.tcp.connect", "127.0.0.1:2")).Key);

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.1:")]
    [InlineData("127.0.0.1:http")]
    [InlineData("::1:53")]
    [InlineData("[::1]53")]
    [InlineData("127.0.0.1:70000")]
    [InlineData("127.0.0.1:-1")]
    public void A_malformed_endpoint_names_its_key(string endpoint) =>
        Assert.Equal("tunnel.udp.listen", Rejected(("tunnel.udp.listen", endpoint), ("tunnel.tcp.listen", "127.0.0.1:1")).Key);

    [Theory]
    [InlineData("tunnel.session.queue-limit", "-5")]
    [InlineData("tunnel.tcp.pool-size", "-1")]
    [InlineData("tunnel.tcp.pool-size", "four")]
    [InlineData("tunnel.session.idle-timeout", "-3s")]
    [InlineData("tunnel.session.idle-timeout", "soon")]
    [InlineData("tunnel.tcp.send-queue-limit", "100")]
    [InlineData("tunnel.tcp.reconnect.max-backoff", "10ms")]
    [InlineData("tunnel.tcp.keepalive.enabled", "maybe")]
    [InlineData("tunnel.tcp.max-queue-delay", "-1s")]
    [InlineData("tunnel.tcp.notsent-lowat", "lots")]
    [InlineData("tunnel.tcp.max-write", "0")]
    [InlineData("tunnel.session.queue-max-delay", "later")]
    [InlineData("tunnel.queue-memory", "1k")]
    [InlineData("tunnel.mailbox.connection.queue-limit", "10")]
    [InlineData("tunnel.log.redact-addresses", "sometimes")]
    [InlineData("tunnel.tcp.allow", "10.0.0.0/33")]
    [InlineData("tunnel.udp.allow", "[a-network]")]
    [InlineData("tunnel.tcp.allow", "5")]
    [InlineData("tunnel.udp.allow", "127.1")]
    [InlineData("tunnel.tcp.max-connections", "0")]
    [InlineData("tunnel.tcp.max-connections-per-source", "many")]
    [InlineData("tunnel.tcp.new-connections-per-second", "-2")]
    [InlineData("tunnel.session.reconnect-grace", "-1s")]
    [InlineData("tunnel.metrics.listen", "localhost")]
    [InlineData("tunnel.tcp.first-frame-timeout", "-1s")]
    [InlineData("tunnel.session.max-per-source", "0")]
    [InlineData("tunnel.session.new-per-second", "fast")]
    [InlineData("tunnel.session.unanswered-timeout", "never")]
    [InlineData("tunnel.auth.handshake-timeout", "0s")]
    [InlineData("tunnel.auth.allow-unauthenticated", "perhaps")]
    [InlineData("tunnel.auth.psk-file", "/nonexistent/tunnel.key")]
    public void A_bad_value_names_its_key(string key, string value) =>
        Assert.Equal(key, Rejected([.. Valid, (key, value)]).Key);

    [Fact]
    public void Tls_settings_that_do_not_fit_the_side_name_their_key()
    {
        using var pki = new TestPki();
        var (cert, key, _) = pki.Issue();
        (string, string) connect = ("tunnel.tcp.connect", "127.0.0.1:9999"), tlsConnect = ("tunnel.tcp.connect", "tls://127.0.0.1:9999");
        (string, string) forward = ("tunnel.udp.forward", "127.0.0.1:5073");
        Assert.Equal("tunnel.tls.ca-file", Rejected(forward, connect, ("tunnel.tls.ca-file", pki.CaFile)).Key);
        Assert.Equal("tunnel.tls.server-name", Rejected(forward, connect, ("tunnel.tls.server-name", "localhost")).Key);
        Assert.Equal("tunnel.tls.cert-file", Rejected(forward, tlsConnect, ("tunnel.tls.cert-file", cert), ("tunnel.tls.key-file", key)).Key);
        Assert.Equal("tunnel.tls.ca-file", Rejected([.. Valid, ("tunnel.tls.ca-file", pki.CaFile)]).Key);
        Assert.Equal("tunnel.tls.key-file", Rejected([.. Valid, ("tunnel.tls.cert-file", cert)]).Key);
        Assert.Equal("tunnel.tls.cert-file", Rejected([.. Valid, ("tunnel.tls.key-file", key)]).Key);
        Assert.Equal("tunnel.tls.cert-file", Rejected([.. Valid, ("tunnel.tls.cert-file", pki.CaFile + ".missing"), ("tunnel.tls.key-file", key)]).Key);
        Assert.Equal("tunnel.tls.key-file", Rejected([.. Valid, ("tunnel.tls.cert-file", cert), ("tunnel.tls.key-file", pki.CaFile)]).Key);
        Assert.Equal("tunnel.tls.key-file", Rejected([.. Valid, ("tunnel.tls.cert-file", cert), ("tunnel.tls.key-file", pki.Issue().KeyFile)]).Key);
        Assert.Equal("tunnel.tls.ca-file", Rejected(forward, tlsConnect, ("tunnel.tls.ca-file", key)).Key);
        Assert.Equal("tunnel.tcp.connect", Rejected(forward, ("tunnel.tcp.connect", "quic://127.0.0.1:9999")).Key);

        var dialing = Sides.Configure(forward, tlsConnect, ("tunnel.tls.ca-file", pki.CaFile)).Settings.Tls!;
        Assert.Equal("127.0.0.1", dialing.ServerName);
        Assert.Single(dialing.Trust!);
        Assert.Null(Sides.Configure(forward, connect).Settings.Tls);
        var listening = Sides.Configure([.. Valid, ("tunnel.tls.cert-file", cert), ("tunnel.tls.key-file", key)]).Settings.Tls!;
        Assert.Equal((cert, key), (listening.CertFile, listening.KeyFile));
    }

    [Fact]
    public void WebSocket_and_fallback_settings_are_read_and_ones_that_do_not_fit_the_side_name_their_key()
    {
        using var pki = new TestPki();
        using var psk = new TempFile(TunnelActors.Auth.PreSharedKey.Generate());
        (string, string) forward = ("tunnel.udp.forward", "127.0.0.1:5073"), keyed = ("tunnel.auth.psk-file", psk.Path);
        var ws = Sides.Configure(forward, ("tunnel.tcp.connect", "ws://localhost/tunnel?v=1")).Settings;
        Assert.Equal(("/tunnel?v=1", "localhost:80", false, "ws"), (ws.WebSocket!.Path, ws.WebSocket.Authority, ws.WebSocket.ProofInUpgrade, ws.Carrier));
        Assert.Equal(new DnsEndPoint("localhost", 80), ws.Tcp.DialTarget);
        Assert.Null(ws.Tls);
        var wss = Sides.Configure(forward, ("tunnel.tcp.connect", "wss://[::1]/t"), ("tunnel.tls.ca-file", pki.CaFile), keyed).Settings;
        Assert.Equal(("/t", "[::1]:443", true, "wss"), (wss.WebSocket!.Path, wss.WebSocket.Authority, wss.WebSocket.ProofInUpgrade, wss.Carrier));
        Assert.Equal("::1", wss.Tls!.ServerName);
        var listening = Sides.Configure([.. Valid, ("tunnel.websocket.path", "/tunnel"), ("tunnel.http-fallback.address", "127.0.0.1:8080")]).Settings;
        Assert.Equal(("/tunnel", "ws"), (listening.WebSocket!.Path, listening.Carrier));
        Assert.Equal(new HttpFallbackSettings(new IPEndPoint(IPAddress.Loopback, 8080), 256, TimeSpan.FromSeconds(60)), listening.HttpFallback);

        Assert.Equal("tunnel.tcp.connect", Rejected(forward, ("tunnel.tcp.connect", "ws://user:pw@localhost/t")).Key);
        Assert.Equal("tunnel.tls.ca-file", Rejected(forward, ("tunnel.tcp.connect", "ws://localhost/t"), ("tunnel.tls.ca-file", pki.CaFile)).Key);
        Assert.Equal("tunnel.websocket.path", Rejected(forward, ("tunnel.tcp.connect", "ws://localhost/t"), ("tunnel.websocket.path", "/t")).Key);
        foreach (var bad in new[] { "tunnel", "/a b", "/x#y" })
            Assert.Equal("tunnel.websocket.path", Rejected([.. Valid, ("tunnel.websocket.path", bad)]).Key);
        Assert.Equal("tunnel.websocket.max-request-bytes", Rejected([.. Valid, ("tunnel.websocket.max-request-bytes", "100")]).Key);
        // Without a key or a WebSocket path every connection is the tunnel's: nothing to hand to a website.
        Assert.Equal("tunnel.http-fallback.address", Rejected([.. Valid, ("tunnel.http-fallback.address", "127.0.0.1:8080")]).Key);
        Assert.Equal("tunnel.http-fallback.address", Rejected(forward, ("tunnel.tcp.connect", "127.0.0.1:9"), keyed, ("tunnel.http-fallback.address", "127.0.0.1:8080")).Key);
        Assert.Equal("tunnel.http-fallback.address", Rejected([.. Valid, keyed, ("tunnel.http-fallback.address", "nowhere")]).Key);
        Assert.NotNull(Sides.Configure([.. Valid, keyed, ("tunnel.http-fallback.address", "localhost:8080")]).Settings.HttpFallback);
    }

    [Fact]
    public void The_http_proxy_is_read_with_its_user_and_a_percent_encoded_password_and_a_bad_one_names_its_key()
    {
        (string, string) forward = ("tunnel.udp.forward", "127.0.0.1:5073"), connect = ("tunnel.tcp.connect", "127.0.0.1:9999");
        var proxy = Sides.Configure(forward, connect, ("tunnel.http-proxy", "http://tunnel:p%40ss%3Aword@127.0.0.1:3128")).Settings.HttpProxy!;
        Assert.Equal(("tunnel", "p@ss:word"), (proxy.User, proxy.Password));
        Assert.Equal("http://tunnel@127.0.0.1:3128", proxy.ToString());
        Assert.Null(Sides.Configure(forward, connect, ("tunnel.http-proxy", "http://127.0.0.1:3128")).Settings.HttpProxy!.User);
        foreach (var bad in new[] { "127.0.0.1:3128", "https://127.0.0.1:3128", "http://127.0.0.1", "http://user@127.0.0.1:3128", "http://127.0.0.1:3128/path" })
            Assert.Equal("tunnel.http-proxy", Rejected(forward, connect, ("tunnel.http-proxy", bad)).Key);
        Assert.Equal("tunnel.http-proxy", Rejected([.. Valid, ("tunnel.http-proxy", "http://127.0.0.1:3128")]).Key);
    }

    [Fact]
    public void An_ipv4_mapped_network_in_an_allow_list_matches_ipv4_peers()
    {
        var settings = Sides.Configure([.. Valid, ("tunnel.udp.allow", "::ffff:10.0.0.0/104")]).Settings;
        Assert.True(settings.Udp.Allow.Allows(new System.Net.IPEndPoint(System.Net.IPAddress.Parse("10.1.2.3"), 1)));
        Assert.True(settings.Udp.Allow.Allows(new System.Net.IPEndPoint(System.Net.IPAddress.Parse("::ffff:10.1.2.3"), 1)));
        Assert.False(settings.Udp.Allow.Allows(new System.Net.IPEndPoint(System.Net.IPAddress.Parse("11.1.2.3"), 1)));
    }

    [Fact]
    public void An_unknown_setting_is_refused_by_name() =>
        Assert.Equal("tunnel.tcp.pool-sise", Rejected([.. Valid, ("tunnel.tcp.pool-sise", "3")]).Key);

    [Fact]
    public void Malformed_hocon_is_refused()
    {
        var e = Assert.Throws<ConfigurationException>(() => TunnelConfiguration.FromHocon("tunnel { udp { listen = ${nowhere} } }"));
        Assert.Contains("malformed HOCON", e.Message);
    }

    [Fact]
    public void Shipped_deployment_files_are_valid()
    {
        var hocon = Path.Combine(AppContext.BaseDirectory, "hocon");
        var files = Directory.GetFiles(hocon, "*.hocon");
        Assert.Contains(files, f => f.EndsWith("seed-nat.hocon"));
        // The files name the key file of an installed side; here a key of the test's stands in for it.
        using var key = new TempFile(TunnelActors.Auth.PreSharedKey.Generate());
        foreach (var file in files)
            TunnelConfiguration.Load(file, new Dictionary<string, string> { ["tunnel.auth.psk-file"] = key.Path });
    }

    [Fact]
    public void Backoff_grows_exponentially_to_its_ceiling_with_bounded_jitter()
    {
        var backoff = new BackoffSettings(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), 0.2, 0);
        Assert.InRange(backoff.Delay(0).TotalSeconds, 1, 1.2);
        Assert.InRange(backoff.Delay(3).TotalSeconds, 8, 9.6);
        Assert.InRange(backoff.Delay(20).TotalSeconds, 30, 36);
        Assert.False(backoff.GivesUpAfter(1000));
        Assert.True((backoff with { MaxRetries = 3 }).GivesUpAfter(3));
    }
}
