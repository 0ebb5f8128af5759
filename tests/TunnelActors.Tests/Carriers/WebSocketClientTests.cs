using System.Net.Sockets;
using System.Text;
using TunnelActors.Carriers;
using TunnelActors.Configuration;
using TunnelActors.Tests.Support;
using Xunit;

namespace TunnelActors.Tests.Carriers;

/// <summary>
/// The dialer's upgrade against a listener written here in raw bytes: what it sends, the answers it refuses (each
/// named), and the WebSocket bytes that arrive with the 101 in one read, which belong to the tunnel.
/// </summary>
public sealed class WebSocketClientTests : IAsyncLifetime
{
    private static readonly WebSocketSettings Settings = new("/tunnel?x=1", "relay.example:443", 8192, TimeSpan.Zero, ProofInUpgrade: false);
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(10));
    private Socket _dialer = null!;
    private Socket _listener = null!;

    public async Task InitializeAsync() => (_dialer, _listener) = await Connections.LoopbackPairAsync();

    [Fact]
    public async Task The_request_is_an_rfc_6455_upgrade_and_frames_sent_with_the_101_reach_the_tunnel()
    {
        var upgrading = WebSocketClient.UpgradeAsync(new NetworkStream(_dialer, ownsSocket: false), Settings, [1, 2, 3], _timeout.Token);
        var request = await ReadHeadAsync();
        Assert.StartsWith("GET /tunnel?x=1 HTTP/1.1\r\n", request);
        Assert.Contains("\r\nHost: relay.example:443\r\n", request);
        Assert.Contains("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", request);
        Assert.Contains("\r\nSec-WebSocket-Version: 13\r\n", request);
        Assert.Contains("\r\nSec-TunnelActors-Proof: AQID\r\n", request);
        var key = Header(request, "Sec-WebSocket-Key");
        Assert.Equal(16, Convert.FromBase64String(key).Length);

        // The 101 and, in the same write, two binary messages (unmasked, as a listener sends them).
        await _listener.SendAsync(Encoding.ASCII.GetBytes(
            $"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Accept: {WebSocketAccept.AcceptFor(key)}\r\n" +
            $"Sec-TunnelActors-Answer: BAUG\r\n\r\n").Concat(new byte[] { 0x82, 2, 7, 8, 0x82, 0 }).ToArray());
        var (opened, answer) = await upgrading;

        Assert.Equal([4, 5, 6], answer);
        var buffer = new byte[64];
        var count = await opened.ReadAsync(buffer, _timeout.Token);
        Assert.Equal(new byte[] { 0, 2, 7, 8, 0, 0 }, buffer[..count]);
    }

    [Fact]
    public void The_accept_it_expects_is_rfc_6455s_own_example() =>
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", WebSocketAccept.AcceptFor("dGhlIHNhbXBsZSBub25jZQ=="));

    [Theory]
    [InlineData("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", "answered 404 at /tunnel?x=1")]
    [InlineData("HTTP/1.1 502 Bad Gateway\r\n\r\n", "answered 502 BadGateway at /tunnel?x=1: a proxy in front of the tunnel cannot reach it")]
    [InlineData("HTTP/1.1 200 OK\r\n\r\n", "answered 200 OK at /tunnel?x=1, not 101 Switching Protocols")]
    [InlineData("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAA\r\n\r\n", "without accepting this side's WebSocket key")]
    [InlineData("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n", "an extension or subprotocol this side did not offer")]
    [InlineData("SSH-2.0-OpenSSH_9.2\r\n\r\n", "is not HTTP")]
    [InlineData("", "closed the connection without answering the upgrade")]
    public async Task An_answer_that_is_not_a_websocket_upgrade_fails_naming_what_came(string answer, string named)
    {
        var upgrading = WebSocketClient.UpgradeAsync(new NetworkStream(_dialer, ownsSocket: false), Settings, null, _timeout.Token);
        var key = Header(await ReadHeadAsync(), "Sec-WebSocket-Key");
        await _listener.SendAsync(Encoding.ASCII.GetBytes(answer.Replace("{accept}", WebSocketAccept.AcceptFor(key))));
        _listener.Shutdown(SocketShutdown.Send);

        var failure = await Assert.ThrowsAsync<IOException>(() => upgrading);
        Assert.Contains(named, failure.Message);
    }

    [Fact]
    public async Task An_answer_head_longer_than_max_request_bytes_fails_naming_the_setting()
    {
        var upgrading = WebSocketClient.UpgradeAsync(new NetworkStream(_dialer, ownsSocket: false), Settings, null, _timeout.Token);
        await ReadHeadAsync();
        await _listener.SendAsync(Encoding.ASCII.GetBytes("HTTP/1.1 101 Switching Protocols\r\n" + string.Concat(Enumerable.Repeat("X-Padding: 0123456789\r\n", 400))));

        var failure = await Assert.ThrowsAsync<IOException>(() => upgrading);
        Assert.Contains("websocket.max-request-bytes", failure.Message);
    }

    private async Task<string> ReadHeadAsync()
    {
        var head = new List<byte>();
        var buffer = new byte[4096];
        while (!Encoding.ASCII.GetString(head.ToArray()).Contains("\r\n\r\n"))
        {
            var read = await _listener.ReceiveAsync(buffer, _timeout.Token);
            if (read == 0) throw new IOException("the dialer closed before its request head ended");
            head.AddRange(buffer[..read]);
        }
        return Encoding.ASCII.GetString(head.ToArray());
    }

    private static string Header(string head, string name) =>
        head.Split("\r\n").Single(line => line.StartsWith(name + ": ", StringComparison.Ordinal))[(name.Length + 2)..];

    public Task DisposeAsync()
    {
        _dialer.Dispose();
        _listener.Dispose();
        _timeout.Dispose();
        return Task.CompletedTask;
    }
}
