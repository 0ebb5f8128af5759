using System.Buffers;
using Xunit;
using TunnelActors.Framing;

namespace TunnelActors.Tests.Framing;

/// <summary>
/// The codec and the decoder run once per datagram on the data path and promise to allocate nothing. Bytes are
/// counted on this thread after a warm-up, so type loading and first-call work are not charged to the frames.
/// </summary>
public sealed class CodecAllocationTests
{
    private const int FramesPerPass = 100;
    private const int WarmUpPasses = 50;
    private const int MeasuredPasses = 200;
    private const int Rounds = 5;

    private static readonly LengthPrefixedCodec Codec = LengthPrefixedCodec.Instance;

    [Theory]
    [InlineData(64)]
    [InlineData(1200)]
    [InlineData(8192)]
    public void Decoding_frames_from_one_segment_with_a_frame_cut_at_its_end_allocates_nothing(int payloadLength)
    {
        var stream = Stream(payloadLength);
        // A pass ends on a half frame, which the next pass completes: the held-bytes path runs every pass too.
        var half = LengthPrefixedCodec.HeaderLength + payloadLength / 2;
        var segment = stream[half..].Concat(stream[..half]).ToArray();
        var decoder = new FrameDecoder();
        var counted = new Counter();
        decoder.Decode(stream[..half], counted);
        byte[][] segments = [segment];

        AssertAllocatesNothing(() => DecodeAll(decoder, counted, segments));
    }

    [Theory]
    [InlineData(64)]
    [InlineData(1200)]
    [InlineData(8192)]
    public void Decoding_frames_whose_headers_and_payloads_straddle_segments_allocates_nothing(int payloadLength)
    {
        var stream = Stream(payloadLength);
        var stride = LengthPrefixedCodec.HeaderLength + payloadLength;
        var parts = new List<byte[]>();
        for (var frame = 0; frame < stream.Length; frame += stride)
        {
            var middle = frame + LengthPrefixedCodec.HeaderLength + payloadLength / 2;
            parts.Add(stream[frame..(frame + 1)]);
            parts.Add(stream[(frame + 1)..middle]);
            parts.Add(stream[middle..(frame + stride)]);
        }
        var decoder = new FrameDecoder();
        var counted = new Counter();
        var segments = parts.ToArray();

        AssertAllocatesNothing(() => DecodeAll(decoder, counted, segments));
    }

    [Theory]
    [InlineData(64)]
    [InlineData(1200)]
    [InlineData(8192)]
    public void Encoding_into_a_reused_writer_allocates_nothing(int payloadLength)
    {
        var payload = new byte[payloadLength];
        new Random(payloadLength).NextBytes(payload);
        var writer = new ArrayBufferWriter<byte>(FramesPerPass * Codec.EncodedLength(payloadLength));

        AssertAllocatesNothing(() =>
        {
            writer.ResetWrittenCount();
            for (var i = 0; i < FramesPerPass; i++) Codec.Write(payload, writer);
            return writer.WrittenCount == FramesPerPass * Codec.EncodedLength(payloadLength) ? FramesPerPass : -1;
        });
    }

    /// <param name="pass">Handles <see cref="FramesPerPass"/> frames and returns how many it handled.</param>
    /// <remarks>
    /// The runtime itself now and then allocates on a thread that only runs the codec (tiering up the code it
    /// runs), so the measurement is taken in several rounds and the quietest one counts: an allocation per
    /// frame shows up in every round.
    /// </remarks>
    private static void AssertAllocatesNothing(Func<int> pass)
    {
        for (var i = 0; i < WarmUpPasses; i++) Assert.Equal(FramesPerPass, pass());

        var quietest = long.MaxValue;
        for (var round = 0; round < Rounds && quietest > 0; round++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < MeasuredPasses; i++) pass();
            quietest = Math.Min(quietest, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        const int frames = MeasuredPasses * FramesPerPass;
        Assert.True(quietest == 0, $"{quietest} B allocated over {frames} frames ({(double)quietest / frames:0.##} B/frame) in the quietest of {Rounds} rounds");
    }

    private static int DecodeAll(FrameDecoder decoder, Counter counter, byte[][] segments)
    {
        counter.Frames = 0;
        foreach (var segment in segments) decoder.Decode(segment, counter);
        return counter.Frames;
    }

    private sealed class Counter : IDatagramReceiver
    {
        public int Frames;

        public void Receive(ReadOnlySpan<byte> datagram) => Frames++;
    }

    private static byte[] Stream(int payloadLength)
    {
        var payload = new byte[payloadLength];
        new Random(payloadLength).NextBytes(payload);
        var output = new ArrayBufferWriter<byte>();
        for (var i = 0; i < FramesPerPass; i++) Codec.Write(payload, output);
        return output.WrittenSpan.ToArray();
    }
}
