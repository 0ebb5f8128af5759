using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using TunnelActors.Configuration;

namespace TunnelActors.Carriers;

/// <summary>
/// The listening end of the WebSocket carrier: reads an accepted connection's HTTP request head and answers it as a
/// web server would, unless it is a WebSocket upgrade at <c>websocket.path</c> (with a key: carrying a proof). The
/// request head is the only HTTP this side reads; what follows a 101 is a <see cref="MessageStream"/>.
/// </summary>
internal static class WebSocketAccept
{
    /// <summary>The dialer's proof of the key (base64), in the upgrade request.</summary>
    public const string ProofHeader = "Sec-TunnelActors-Proof";

    /// <summary>The listener's answer to it (base64), in the 101 response.</summary>
    public const string AnswerHeader = "Sec-TunnelActors-Answer";

    private const string AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    /// <summary>A request that is not a tunnel connection; <paramref name="socketTaken"/>: handed to the website, or to a web server's answer, which closes the socket.</summary>
    public sealed class Refused(string message, bool socketTaken) : IOException(message)
    {
        public bool SocketTaken => socketTaken;
    }

    /// <summary>What a request head is to this side.</summary>
    public abstract record Verdict
    {
        public sealed record Tunnel(string Key, byte[]? Proof) : Verdict;

        public sealed record NotFound(string Why) : Verdict;

        public sealed record BadRequest(string Why) : Verdict;
    }

    /// <summary>
    /// Reads the request and opens the tunnel's stream on <paramref name="transport"/>: at once without a key; with one,
    /// a <see cref="DeferredStream"/> whose first read is the request's proof and whose first write (the stage's answer)
    /// sends the 101, and which a refused proof hands on as any other stranger. Anything else goes to the website
    /// (<paramref name="site"/>) or is answered (404, 400) and closed, and is thrown as <see cref="Refused"/>.
    /// </summary>
    public static async Task<Stream> OpenAsync(Stream transport, Socket socket, WebSocketSettings settings, FallbackSite? site, TimeSpan answerTimeout,
        CancellationToken cancellation)
    {
        var (read, headLength) = await HttpHead.ReadAsync(transport, settings.MaxRequestBytes, cancellation);
        if (read.Length == 0 || headLength == 0) throw new Refused("WebSocket: the connection ended before a whole request head", socketTaken: false);
        var verdict = headLength < 0 ? new Verdict.BadRequest($"no request head within {settings.MaxRequestBytes} bytes (websocket.max-request-bytes)")
            : read.Length > headLength ? new Verdict.BadRequest("bytes after the request head before it was answered")
            : Judge(read, settings);
        var (why, page) = verdict switch
        {
            Verdict.NotFound notFound => (notFound.Why, NotFound),
            Verdict.BadRequest bad => (bad.Why, BadRequest),
            _ => (null, null),
        };
        if (why is not null)
        {
            _ = FallbackSite.TakeAsync(site, transport, socket, read, page, answerTimeout);
            throw new Refused($"WebSocket: {why}; {(site is null ? $"answered {Encoding.ASCII.GetString(page!, 9, 3)}" : "handed to the website")}", socketTaken: true);
        }
        var tunnel = (Verdict.Tunnel)verdict;
        if (tunnel.Proof is null)
        {
            await transport.WriteAsync(Switching(tunnel.Key, null), cancellation);
            return Open(transport, settings);
        }
        return new DeferredStream(transport, tunnel.Proof,
            async (answer, ct) =>
            {
                await transport.WriteAsync(Switching(tunnel.Key, answer.ToArray()), ct);
                return (Open(transport, settings), []);
            },
            () => FallbackSite.TakeAsync(site, transport, socket, read, NotFound, answerTimeout));
    }

    private static MessageStream Open(Stream transport, WebSocketSettings settings) => new(transport, client: false, settings.PingInterval);

    /// <summary>What the request head asks, for a side that serves the tunnel at <c>settings.Path</c>.</summary>
    public static Verdict Judge(ReadOnlySpan<byte> head, WebSocketSettings settings)
    {
        var wellFormed = HttpHead.TryParse(head, out var request, out var headers);
        if (request.Length != 3 || !request[2].StartsWith("HTTP/1.", StringComparison.Ordinal) || request[2].Contains(' ') || request[1].Length == 0)
            return new Verdict.BadRequest("not an HTTP/1.x request");
        if (!wellFormed) return new Verdict.BadRequest("a malformed header line");
        var (method, target) = (request[0], request[1]);
        var query = target.IndexOf('?');
        var path = query >= 0 ? target[..query] : target;
        var asked = $"{method} {(path.Length > 64 ? path[..64] + "…" : path)}";
        if (method != "GET" || path != settings.Path) return new Verdict.NotFound($"{asked} is not the tunnel's path");
        if (!HttpHead.HasToken(headers, "Upgrade", "websocket") || !HttpHead.HasToken(headers, "Connection", "upgrade"))
            return new Verdict.NotFound($"{asked} without a WebSocket upgrade");
        if (!headers.TryGetValue("Sec-WebSocket-Version", out var version) || version != "13")
            return new Verdict.BadRequest($"WebSocket version '{version}', not 13");
        if (!headers.TryGetValue("Sec-WebSocket-Key", out var key) || !IsBase64Of(key, 16))
            return new Verdict.BadRequest("no valid Sec-WebSocket-Key");
        if (!settings.ProofInUpgrade) return new Verdict.Tunnel(key, null);
        if (!headers.TryGetValue(ProofHeader, out var proofText)) return new Verdict.NotFound($"{asked}: an upgrade without a proof of the key");
        try
        {
            return new Verdict.Tunnel(key, Convert.FromBase64String(proofText));
        }
        catch (FormatException)
        {
            return new Verdict.NotFound($"{asked}: a proof of the key that is not base64");
        }
    }

    private static bool IsBase64Of(string text, int length)
    {
        Span<byte> decoded = stackalloc byte[length + 3];
        return Convert.TryFromBase64String(text, decoded, out var written) && written == length;
    }

    private static byte[] Switching(string key, byte[]? answer)
    {
        var accept = AcceptFor(key);
        var extra = answer is null ? "" : $"{AnswerHeader}: {Convert.ToBase64String(answer)}\r\n";
        return Encoding.ASCII.GetBytes($"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n{extra}\r\n");
    }

    /// <summary>The <c>Sec-WebSocket-Accept</c> that answers <paramref name="key"/> (RFC 6455 4.2.2).</summary>
    public static string AcceptFor(string key) => Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + AcceptGuid)));

    private static readonly byte[] NotFound = Page("404 Not Found");
    private static readonly byte[] BadRequest = Page("400 Bad Request");

    private static byte[] Page(string status)
    {
        var body = $"<html>\r\n<head><title>{status}</title></head>\r\n<body>\r\n<center><h1>{status}</h1></center>\r\n</body>\r\n</html>\r\n";
        return Encoding.ASCII.GetBytes($"HTTP/1.1 {status}\r\nContent-Type: text/html\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}");
    }
}
