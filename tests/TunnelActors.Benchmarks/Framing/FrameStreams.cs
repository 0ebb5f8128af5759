using System.Buffers;
using TunnelActors.Framing;

namespace TunnelActors.Benchmarks.Framing;

/// <summary>Encoded frame streams to decode, as TCP delivers them: in one segment, or cut anywhere.</summary>
internal static class FrameStreams
{
    public static byte[] Encode(int payloadLength, int frames)
    {
        var payload = new byte[payloadLength];
        new Random(payloadLength).NextBytes(payload);
        var codec = LengthPrefixedCodec.Instance;
        var output = new ArrayBufferWriter<byte>(frames * codec.EncodedLength(payloadLength));
        for (var i = 0; i < frames; i++) codec.Write(payload, output);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>
    /// The worst case for a decoder: every length header is split between its two bytes and every payload in its
    /// middle, so each frame spans three segments and is completed through the held-bytes path.
    /// </summary>
    public static byte[][] SplitEveryFrame(byte[] stream, int payloadLength)
    {
        var stride = LengthPrefixedCodec.HeaderLength + payloadLength;
        var segments = new List<byte[]>();
        for (var frame = 0; frame < stream.Length; frame += stride)
        {
            var middle = frame + LengthPrefixedCodec.HeaderLength + payloadLength / 2;
            segments.Add(stream[frame..(frame + 1)]);
            segments.Add(stream[(frame + 1)..middle]);
            segments.Add(stream[middle..(frame + stride)]);
        }
        return [.. segments];
    }
}
