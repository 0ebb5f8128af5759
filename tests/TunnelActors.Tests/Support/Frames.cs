using System.Buffers;
using TunnelActors.Framing;

namespace TunnelActors.Tests.Support;

/// <summary>Tunnel frames (RFC 4571: a 16-bit length, then the datagram) as the far side of a connection writes and reads them.</summary>
public static class Frames
{
    /// <summary>One frame for each payload, back to back.</summary>
    public static byte[] Of(params byte[][] payloads) => OfAll(payloads);

    public static byte[] OfAll(IEnumerable<byte[]> payloads)
    {
        var output = new ArrayBufferWriter<byte>();
        foreach (var payload in payloads) LengthPrefixedCodec.Instance.Write(payload, output);
        return output.WrittenSpan.ToArray();
    }

    /// <summary><paramref name="count"/> frames of the same payload.</summary>
    public static byte[] Repeat(int count, byte[] payload) => OfAll(Enumerable.Repeat(payload, count));

    /// <summary>The payloads of the whole frames at the start of <paramref name="bytes"/>; <paramref name="rest"/> is what is left after them.</summary>
    public static List<byte[]> Read(ReadOnlySpan<byte> bytes, out int rest)
    {
        var payloads = new List<byte[]>();
        while (LengthPrefixedCodec.Instance.TryRead(ref bytes, out var payload)) payloads.Add(payload.ToArray());
        rest = bytes.Length;
        return payloads;
    }
}
