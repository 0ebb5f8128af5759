using System.Net;
using System.Security.Cryptography;
using System.Text;
using TunnelActors.Configuration;

namespace TunnelActors.Carriers;

/// <summary>
/// The dialing end of the WebSocket carrier: sends the upgrade request (RFC 6455 4.1) over a connection already dialed
/// (through the proxy, inside TLS when <c>wss://</c>), with the dialer's proof in it when there is a key, and reads the
/// listener's 101 and its answer to the proof.
/// </summary>
internal static class WebSocketClient
{
    /// <returns>The tunnel's stream, and the listener's answer to <paramref name="proof"/> (empty without one).</returns>
    public static async Task<(Stream Opened, byte[] Answer)> UpgradeAsync(Stream transport, WebSocketSettings settings, byte[]? proof, CancellationToken cancellation)
    {
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        var request = new StringBuilder()
            .Append($"GET {settings.Path} HTTP/1.1\r\nHost: {settings.Authority}\r\n")
            .Append($"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n");
        if (proof is not null) request.Append($"{WebSocketAccept.ProofHeader}: {Convert.ToBase64String(proof)}\r\n");
        await transport.WriteAsync(Encoding.ASCII.GetBytes(request.Append("\r\n").ToString()), cancellation);

        var (read, headLength) = await HttpHead.ReadAsync(transport, settings.MaxRequestBytes, cancellation);
        if (headLength == 0) throw new IOException($"WebSocket: the far side closed the connection without answering the upgrade at {settings.Path}");
        if (headLength < 0) throw new IOException($"WebSocket: no answer head within {settings.MaxRequestBytes} bytes (websocket.max-request-bytes) to the upgrade at {settings.Path}");
        if (!HttpHead.TryParse(read.AsSpan(0, headLength), out var status, out var headers) || status.Length < 2
            || !status[0].StartsWith("HTTP/1.", StringComparison.Ordinal) || !int.TryParse(status[1], out var code))
            throw new IOException($"WebSocket: the far side's answer to the upgrade at {settings.Path} is not HTTP");
        if (code != 101)
        {
            var named = (HttpStatusCode)code;
            throw new IOException(named switch
            {
                HttpStatusCode.NotFound => $"WebSocket: the far side answered 404 at {settings.Path}: another path, or it does not take this side's key",
                HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout =>
                    $"WebSocket: the far side answered {code} {named} at {settings.Path}: a proxy in front of the tunnel cannot reach it",
                _ => $"WebSocket: the far side answered {code} {named} at {settings.Path}, not 101 Switching Protocols",
            });
        }
        if (!HttpHead.HasToken(headers, "Upgrade", "websocket") || !HttpHead.HasToken(headers, "Connection", "upgrade")
            || !headers.TryGetValue("Sec-WebSocket-Accept", out var accept) || accept != WebSocketAccept.AcceptFor(key))
            throw new IOException($"WebSocket: the far side switched protocols at {settings.Path} without accepting this side's WebSocket key");
        if (headers.ContainsKey("Sec-WebSocket-Extensions") || headers.ContainsKey("Sec-WebSocket-Protocol"))
            throw new IOException($"WebSocket: the far side at {settings.Path} chose an extension or subprotocol this side did not offer");
        byte[] answer = [];
        if (proof is not null && (!headers.TryGetValue(WebSocketAccept.AnswerHeader, out var value) || !TryBase64(value, out answer)))
            throw new IOException("WebSocket: the far side switched protocols without answering this side's proof of the key: it holds no key, or is not a TunnelActors");
        return (new MessageStream(transport, client: true, settings.PingInterval, read.AsSpan(headLength)), answer);
    }

    private static bool TryBase64(string text, out byte[] bytes)
    {
        try
        {
            bytes = Convert.FromBase64String(text);
            return true;
        }
        catch (FormatException)
        {
            bytes = [];
            return false;
        }
    }
}
