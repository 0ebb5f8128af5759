using System.Net;
using System.Net.Http;
using System.Net.WebSockets;
using TunnelActors.Configuration;

namespace TunnelActors.Carriers;

/// <summary>
/// The dialing end of the WebSocket carrier: .NET's <see cref="ClientWebSocket"/> makes the upgrade request over a
/// connection already dialed (through the proxy, inside TLS when <c>wss://</c>), with the dialer's proof in it when
/// there is a key, and reads the listener's answer from the 101.
/// </summary>
internal static class WebSocketClient
{
    /// <returns>The tunnel's stream, and the listener's answer to <paramref name="proof"/> (empty without one).</returns>
    public static async Task<(Stream Opened, byte[] Answer)> UpgradeAsync(Stream transport, WebSocketSettings settings, byte[]? proof, CancellationToken cancellation)
    {
        var gathering = MessageStream.Gather(transport);
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = settings.PingInterval;
        socket.Options.CollectHttpResponseDetails = true;
        if (proof is not null) socket.Options.SetRequestHeader(WebSocketAccept.ProofHeader, Convert.ToBase64String(proof));
        // The connection is this one, already through any proxy and TLS: the handler only writes the request on it.
        using var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            ConnectCallback = (_, _) => ValueTask.FromResult<Stream>(gathering),
        };
        using var invoker = new HttpMessageInvoker(handler, disposeHandler: false);
        try
        {
            await socket.ConnectAsync(new Uri($"ws://{settings.Authority}{settings.Path}"), invoker, cancellation);
        }
        catch (WebSocketException e)
        {
            var status = socket.HttpStatusCode;
            socket.Dispose();
            throw new IOException(status switch
            {
                0 => $"WebSocket: the upgrade at {settings.Path} failed ({e.Message})",
                HttpStatusCode.NotFound => $"WebSocket: the far side answered 404 at {settings.Path}: another path, or it does not take this side's key",
                HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout =>
                    $"WebSocket: the far side answered {(int)status} {status} at {settings.Path}: a proxy in front of the tunnel cannot reach it",
                _ => $"WebSocket: the far side answered {(int)status} {status} at {settings.Path}, not 101 Switching Protocols",
            });
        }
        byte[] answer = [];
        if (proof is not null)
        {
            var value = socket.HttpResponseHeaders?.FirstOrDefault(h => h.Key.Equals(WebSocketAccept.AnswerHeader, StringComparison.OrdinalIgnoreCase)).Value?.FirstOrDefault();
            if (value is null || !TryBase64(value, out answer))
            {
                socket.Dispose();
                throw new IOException("WebSocket: the far side switched protocols without answering this side's proof of the key: it holds no key, or is not a TunnelActors");
            }
        }
        socket.HttpResponseHeaders = null;
        return (MessageStream.Over(socket, gathering), answer);
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
