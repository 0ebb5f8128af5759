using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using TunnelActors.Flow;
using TunnelActors.Tests.Support;
using TunnelActors.Tools.Demo;
using Xunit;

namespace TunnelActors.Tests.Carriers;

/// <summary>
/// WebSocket as a carrier, side to side: tunnels through it plain and inside TLS, keyed and not, in both orientations;
/// a listener that answers every request that is not a proven tunnel upgrade as a web server answers a path it does not
/// have; a dialer that says what the far side answered.
/// </summary>
public sealed class WebSocketTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    // These tests are about what crosses the carrier: a frame that waits longer than 200 ms (the default) for its write
    // is dropped by design, and a machine running the whole suite at once can stall a thread-pool completion that long.
    private static readonly (string, string) Patient = ("tunnel.tcp.max-queue-delay", "5s");
    private readonly TestPki _pki = new();
    private readonly UdpEcho _echo = new(new IPEndPoint(IPAddress.Loopback, 0));
    private readonly TempFile _key = new(TunnelActors.Auth.PreSharedKey.Generate());

    [Fact]
    public async Task Peers_cross_a_plain_websocket_tunnel_in_the_mullvad_orientation()
    {
        await using var server = await Sides.StartAsync("ws-server", Patient, ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", _echo.LocalEndPoint.ToString()),
            ("tunnel.websocket.path", "/tunnel"));
        await using var client = await Sides.StartAsync("ws-client", Patient, ("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", $"ws://{server.TcpEndpoint}/tunnel"));

        // Large datagrams one peer at a time (the echo's receive buffer), each several WebSocket frames' worth.
        var failures = (await Peers.EchoAsync(client.UdpEndpoint, 20, [0, 1, 1200], rounds: 3))
            .Concat(await Peers.EchoInTurnAsync(client.UdpEndpoint, 3, [8000, 16000, 65000])).ToList();
        Assert.True(failures.Count == 0, $"{string.Join("; ", failures)}; client: {SideResources.For(client.System).Counters}; " +
                                         $"server: {SideResources.For(server.System).Counters}");
        Assert.Equal(23, SideMetrics.Read("ws-client", "connections.opened", ("origin", "dialed"), ("carrier", "ws")));
        Assert.Equal(23, SideMetrics.Read("ws-server", "connections.opened", ("origin", "accepted"), ("carrier", "ws")));
        Assert.Equal(0, SideMetrics.Read("ws-client", "drops") + SideMetrics.Read("ws-server", "drops"));
    }

    [Fact]
    public async Task Peers_cross_a_keyed_wss_tunnel_in_the_seed_orientation()
    {
        var (cert, key, _) = _pki.Issue();
        await using var nat = await Sides.StartAsync("wss-nat", Patient, ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.listen", "127.0.0.1:0"),
            ("tunnel.tls.cert-file", cert), ("tunnel.tls.key-file", key), ("tunnel.websocket.path", "/t"), ("tunnel.auth.psk-file", _key.Path));
        await using var relay = await Sides.StartAsync("wss-relay", Patient, ("tunnel.udp.forward", _echo.LocalEndPoint.ToString()),
            ("tunnel.tcp.connect", $"wss://{nat.TcpEndpoint}/t"), ("tunnel.tls.ca-file", _pki.CaFile), ("tunnel.auth.psk-file", _key.Path));

        var failures = (await Peers.EchoAsync(nat.UdpEndpoint, 20, [0, 1, 1200], rounds: 3))
            .Concat(await Peers.EchoInTurnAsync(nat.UdpEndpoint, 2, [8000, 65000])).ToList();
        Assert.True(failures.Count == 0, $"{string.Join("; ", failures)}; nat: {SideResources.For(nat.System).Counters}; " +
                                         $"relay: {SideResources.For(relay.System).Counters}");
        Assert.Equal(0, SideMetrics.Read("wss-nat", "drops") + SideMetrics.Read("wss-relay", "drops"));
        Assert.True(SideMetrics.Read("wss-nat", "connections.opened", ("origin", "accepted"), ("carrier", "wss")) > 0);
    }

    [Fact]
    public async Task Peers_cross_a_keyed_plain_websocket_tunnel_in_the_mullvad_orientation()
    {
        await using var server = await Sides.StartAsync("ws-keyed-server", Patient, ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", _echo.LocalEndPoint.ToString()),
            ("tunnel.websocket.path", "/tunnel"), ("tunnel.auth.psk-file", _key.Path));
        await using var client = await Sides.StartAsync("ws-keyed-client", Patient, ("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", $"ws://{server.TcpEndpoint}/tunnel"), ("tunnel.auth.psk-file", _key.Path));

        Assert.Empty(await Peers.EchoAsync(client.UdpEndpoint, 20, [1, 1200], rounds: 3));
        Assert.Equal(0, SideMetrics.Read("ws-keyed-client", "drops") + SideMetrics.Read("ws-keyed-server", "drops"));
    }

    [Fact]
    public async Task On_the_wire_each_datagram_is_one_binary_message_so_any_websocket_client_can_speak_to_a_keyless_listener()
    {
        await using var server = await Sides.StartAsync("ws-wire", Patient, ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", _echo.LocalEndPoint.ToString()),
            ("tunnel.websocket.path", "/tunnel"));
        using var client = new System.Net.WebSockets.ClientWebSocket();
        using var timeout = new CancellationTokenSource(Wait);
        await client.ConnectAsync(new Uri($"ws://{server.TcpEndpoint}/tunnel"), timeout.Token);
        var buffer = new byte[70_000];
        foreach (var size in new[] { 0, 1, 1200, 40_000, 65_000 })
        {
            var datagram = RandomNumberGenerator.GetBytes(size);
            await client.SendAsync(datagram, System.Net.WebSockets.WebSocketMessageType.Binary, endOfMessage: true, timeout.Token);
            var received = 0;
            System.Net.WebSockets.ValueWebSocketReceiveResult part;
            do
            {
                part = await client.ReceiveAsync(buffer.AsMemory(received), timeout.Token);
                received += part.Count;
            } while (!part.EndOfMessage);
            Assert.Equal(System.Net.WebSockets.WebSocketMessageType.Binary, part.MessageType);
            Assert.True(datagram.AsSpan().SequenceEqual(buffer.AsSpan(0, received)), $"the {size}-byte echo came back as {received} other bytes");
        }

        // A message larger than any datagram ends the connection.
        await client.SendAsync(new byte[65_536], System.Net.WebSockets.WebSocketMessageType.Binary, endOfMessage: true, timeout.Token);
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            var end = await client.ReceiveAsync(buffer.AsMemory(), timeout.Token);
            if (end.MessageType == System.Net.WebSockets.WebSocketMessageType.Close) throw new IOException("closed");
        });
    }

    [Fact]
    public async Task A_keyed_listener_answers_every_request_that_is_not_a_proven_upgrade_with_the_same_404()
    {
        await using var server = await Sides.StartAsync("ws-probed", Patient, ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", _echo.LocalEndPoint.ToString()),
            ("tunnel.websocket.path", "/tunnel"), ("tunnel.auth.psk-file", _key.Path));
        var upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
        // A genuine hello, made with another key.
        var otherKey = TunnelActors.Auth.PreSharedKey.FromBytes(RandomNumberGenerator.GetBytes(TunnelActors.Auth.PreSharedKey.Length));
        var strangerProof = new TunnelActors.Auth.Handshake(otherKey, TunnelActors.Auth.HandshakeRole.Dialer, TimeSpan.FromMinutes(5)).Greeting;
        string[] requests =
        [
            "GET / HTTP/1.1\r\nHost: example\r\n\r\n",
            "GET /tunnel HTTP/1.1\r\nHost: example\r\n\r\n",
            $"GET /tunnel HTTP/1.1\r\nHost: example\r\n{upgrade}\r\n",
            $"GET /tunnel HTTP/1.1\r\nHost: example\r\n{upgrade}Sec-TunnelActors-Proof: {Convert.ToBase64String(RandomNumberGenerator.GetBytes(76))}\r\n\r\n",
            $"GET /tunnel HTTP/1.1\r\nHost: example\r\n{upgrade}Sec-TunnelActors-Proof: {Convert.ToBase64String(strangerProof)}\r\n\r\n",
            $"GET /other HTTP/1.1\r\nHost: example\r\n{upgrade}\r\n",
        ];
        var answers = new List<string>();
        foreach (var request in requests) answers.Add(await AskAsync(server.TcpEndpoint, request));

        Assert.All(answers, answer => Assert.StartsWith("HTTP/1.1 404 Not Found\r\n", answer));
        Assert.Single(answers.Distinct());
        // Counted: those the WebSocket front door turned away, and those whose proof the handshake refused.
        Assert.Equal(4, SideMetrics.Read("ws-probed", "connections.refused", ("reason", "not-a-tunnel")));
        Assert.Equal(2, SideMetrics.Read("ws-probed", "connections.refused", ("reason", "handshake-failed")));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_dialer_sent_to_a_path_the_far_side_does_not_serve_says_what_it_answered_and_gives_up_after_max_retries(bool keyed)
    {
        await using var server = await Sides.StartAsync($"ws-elsewhere-{keyed}", ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", _echo.LocalEndPoint.ToString()),
            ("tunnel.websocket.path", "/tunnel"), ("tunnel.auth.psk-file", _key.Path), ("tunnel.auth.allow-unauthenticated", "on"));
        using var config = new TempFile("tunnel.tcp.reconnect { min-backoff = 100ms, max-backoff = 200ms, max-retries = 2 }");
        string[] key = keyed ? ["--psk-file", _key.Path] : [];
        await using var side = SideProcess.Start(["--udp-forward", _echo.LocalEndPoint.ToString(), "--tcp-connect", $"ws://{server.TcpEndpoint}/elsewhere",
            "--config", config.Path, .. key]);
        using var timeout = new CancellationTokenSource(Wait);
        await side.WaitForExitAsync(timeout.Token);
        Assert.NotEqual(0, side.ExitCode);
        Assert.Contains("the far side answered 404 at /elsewhere", side.Log);
        Assert.Contains("tunnel.tcp.reconnect.max-retries", side.Log);
    }

    /// <summary>Sends <paramref name="request"/> on a new connection and reads the answer until the far side closes.</summary>
    private static async Task<string> AskAsync(IPEndPoint server, string request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(server);
        await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes(request));
        var closed = await Connections.ReadUntilClosedAsync(client.Client, Wait);
        return Encoding.ASCII.GetString(closed.Received);
    }

    public void Dispose()
    {
        _echo.Dispose();
        _pki.Dispose();
        _key.Dispose();
    }
}
