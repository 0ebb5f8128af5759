using System.Text;
using TunnelActors.Carriers;
using TunnelActors.Configuration;
using Xunit;

namespace TunnelActors.Tests.Carriers;

/// <summary>What the listener makes of a request head, without a socket: the tunnel's upgrade, or what a web server answers.</summary>
public sealed class WebSocketAcceptTests
{
    private static readonly WebSocketSettings Keyless = new("/tunnel", null, 8192, TimeSpan.Zero, ProofInUpgrade: false);
    private const string Upgrade = "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

    [Theory]
    [InlineData("GET /tunnel HTTP/1.1\r\nHost: a\r\n" + Upgrade + "\r\n", "Tunnel")]
    [InlineData("GET /tunnel?x=1 HTTP/1.1\r\nhost: a\r\n" + Upgrade + "\r\n", "Tunnel")]
    [InlineData("GET /tunnel HTTP/1.1\r\nHost: a\r\n\r\n", "NotFound")]
    [InlineData("POST /tunnel HTTP/1.1\r\nHost: a\r\n" + Upgrade + "\r\n", "NotFound")]
    [InlineData("GET /other HTTP/1.1\r\nHost: a\r\n" + Upgrade + "\r\n", "NotFound")]
    [InlineData("GET /tunnel HTTP/1.1 extra\r\nHost: a\r\n" + Upgrade + "\r\n", "BadRequest: not an HTTP/1.x request")]
    [InlineData("GET /tunnel\r\n\r\n", "BadRequest: not an HTTP/1.x request")]
    [InlineData("\u0016\u0003\u0001garbage\r\nno colon here\r\n\r\n", "BadRequest: not an HTTP/1.x request")]
    [InlineData("GET /tunnel HTTP/1.1\r\nHost: a\r\nno colon here\r\n" + Upgrade + "\r\n", "BadRequest: a malformed header line")]
    [InlineData("GET /tunnel HTTP/1.1\r\nBad Name: a\r\n" + Upgrade + "\r\n", "BadRequest: a malformed header line")]
    [InlineData("GET /tunnel HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", "BadRequest: WebSocket version '8', not 13")]
    [InlineData("GET /tunnel HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n", "BadRequest: no valid Sec-WebSocket-Key")]
    public void A_request_head_is_judged_as_a_web_server_would(string head, string expected)
    {
        var verdict = WebSocketAccept.Judge(Encoding.Latin1.GetBytes(head), Keyless);

        var said = verdict switch
        {
            WebSocketAccept.Verdict.Tunnel => "Tunnel",
            WebSocketAccept.Verdict.NotFound => "NotFound",
            WebSocketAccept.Verdict.BadRequest bad => $"BadRequest: {bad.Why}",
            _ => verdict.ToString(),
        };
        Assert.Equal(expected, said);
    }
}
