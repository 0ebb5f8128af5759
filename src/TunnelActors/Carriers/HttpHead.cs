using System.Text;

namespace TunnelActors.Carriers;

/// <summary>The head of an HTTP/1.x request or response (the start line and the header fields): the only HTTP the WebSocket carrier reads itself.</summary>
internal static class HttpHead
{
    /// <summary>
    /// What was read, and where the head ends: 0 when the connection ended before it did, -1 when none ended within
    /// <paramref name="max"/> bytes. Reads are not stopped at the head's end: what follows is returned too.
    /// </summary>
    public static async Task<(byte[] Read, int HeadLength)> ReadAsync(Stream stream, int max, CancellationToken cancellation)
    {
        var buffer = new byte[max];
        var count = 0;
        while (count < max)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(count), cancellation);
            if (read == 0) return (buffer[..count], 0);
            var from = Math.Max(0, count - 3);
            count += read;
            var end = buffer.AsSpan(from, count - from).IndexOf("\r\n\r\n"u8);
            if (end >= 0) return (buffer[..count], from + end + 4);
        }
        return (buffer, -1);
    }

    /// <summary>
    /// The start line cut in three at its first two spaces (method, target, version; or version, status, reason) and the
    /// header fields (a repeated one joined with ", "); false when a header line is malformed, the start line cut all the same.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> head, out string[] startLine, out Dictionary<string, string> headers)
    {
        var lines = Encoding.Latin1.GetString(head).Split("\r\n");
        startLine = lines[0].Split(' ', 3);
        headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1).TakeWhile(l => l.Length > 0))
        {
            var colon = line.IndexOf(':');
            if (colon <= 0 || line[..colon].Any(c => c is ' ' or '\t')) return false;
            var (name, value) = (line[..colon], line[(colon + 1)..].Trim());
            headers[name] = headers.TryGetValue(name, out var earlier) ? $"{earlier}, {value}" : value;
        }
        return true;
    }

    /// <summary>Whether the field <paramref name="name"/> lists <paramref name="token"/> (case-insensitive).</summary>
    public static bool HasToken(Dictionary<string, string> headers, string name, string token) =>
        headers.TryGetValue(name, out var value) && value.Split(',').Any(t => t.Trim().Equals(token, StringComparison.OrdinalIgnoreCase));
}
