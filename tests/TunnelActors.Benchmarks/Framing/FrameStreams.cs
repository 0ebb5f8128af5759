using System.Buffers;
using TunnelActors.Framing;

namespace TunnelActors.Benchmarks.Framing;

/// <summary>Encoded frame streams to decode, laid out in one segment or split across many.</summary>
internal static class FrameStreams
{
    public static byte[] Encode(IFrameCodec codec, int payloadLength, int frames)
    {
        var payload = new byte[payloadLength];
        new Random(payloadLength).NextBytes(payload);
        var output = new ArrayBufferWriter<byte>(frames * codec.EncodedLength(payloadLength));
        for (var i = 0; i < frames; i++) codec.Write(payload, output);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>
    /// The worst case for a reader: every length header is split between its two bytes and every payload
    /// in its middle, so each frame spans three segments and the header is read through the copy path.
    /// </summary>
    public static ReadOnlySequence<byte> SplitEveryFrame(byte[] stream, int payloadLength)
    {
        var stride = LengthPrefixedCodec.HeaderLength + payloadLength;
        var cuts = new List<int>();
        for (var frame = 0; frame < stream.Length; frame += stride)
        {
            cuts.Add(frame + 1);
            if (payloadLength > 1) cuts.Add(frame + LengthPrefixedCodec.HeaderLength + payloadLength / 2);
        }
        return Segment.Chain(stream, cuts);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        private Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public static ReadOnlySequence<byte> Chain(byte[] stream, IReadOnlyList<int> cuts)
        {
            var first = new Segment(stream.AsMemory(0, cuts[0]), 0);
            var last = first;
            for (var i = 0; i < cuts.Count; i++)
            {
                var end = i + 1 < cuts.Count ? cuts[i + 1] : stream.Length;
                var next = new Segment(stream.AsMemory(cuts[i], end - cuts[i]), cuts[i]);
                last.Next = next;
                last = next;
            }
            return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        }
    }
}
