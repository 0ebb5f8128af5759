using System.Buffers;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;
using TunnelActors.Framing;
using TunnelActors.Links;

namespace TunnelActors.Tests.Framing;

public sealed class LengthPrefixedCodecTests
{
    private static readonly LengthPrefixedCodec Codec = LengthPrefixedCodec.Instance;

    [Fact]
    public void Encodes_a_big_endian_length_then_the_payload()
    {
        var output = new ArrayBufferWriter<byte>();
        Codec.Write([0xAA, 0xBB, 0xCC], output);
        Assert.Equal(new byte[] { 0x00, 0x03, 0xAA, 0xBB, 0xCC }, output.WrittenSpan.ToArray());

        output.ResetWrittenCount();
        Codec.Write(new byte[300], output);
        Assert.Equal(new byte[] { 0x01, 0x2C }, output.WrittenSpan[..2].ToArray());
    }

    [Fact]
    public void Zero_length_and_largest_frames_round_trip()
    {
        var payloads = new[] { Array.Empty<byte>(), Payload(ushort.MaxValue, 7), Array.Empty<byte>() };
        Assert.Equal(payloads, DecodeAll(Chunks(Encode(payloads), int.MaxValue)));
    }

    [Fact]
    public void Refuses_a_payload_longer_than_a_frame_can_carry()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Codec.Write(new byte[ushort.MaxValue + 1], new ArrayBufferWriter<byte>()));
    }

    [Fact]
    public void Frames_split_at_every_byte_boundary_come_out_whole()
    {
        var payloads = new[] { Payload(5, 1), Array.Empty<byte>(), Payload(1, 2), Payload(1200, 3) };
        var stream = Encode(payloads);
        for (var split = 0; split <= stream.Length; split++)
        {
            var decoded = DecodeAll([stream[..split], stream[split..]]);
            Assert.Equal(payloads, decoded);
        }
    }

    [Fact]
    public void One_byte_segments_come_out_whole()
    {
        var payloads = new[] { Payload(3, 1), Array.Empty<byte>(), Payload(9000, 2) };
        Assert.Equal(payloads, DecodeAll(Chunks(Encode(payloads), 1)));
    }

    [Fact]
    public void Many_frames_in_one_segment()
    {
        var payloads = Enumerable.Range(0, 500).Select(i => Payload(i % 40, (byte)i)).ToArray();
        Assert.Equal(payloads, DecodeAll([Encode(payloads)]));
    }

    [Fact]
    public void An_incomplete_frame_leaves_the_buffer_untouched()
    {
        var stream = Encode([Payload(10, 1)]);
        ReadOnlySpan<byte> buffer = stream[..7];
        Assert.False(Codec.TryRead(ref buffer, out _));
        Assert.Equal(7, buffer.Length);

        ReadOnlySpan<byte> header = stream[..1];
        Assert.False(Codec.TryRead(ref header, out _));
        Assert.Equal(1, header.Length);
        Assert.Equal(-1, Codec.FrameLength(header));
    }

    [Fact]
    public void A_header_split_across_segments_is_read()
    {
        var stream = Encode([Payload(300, 9)]);
        Assert.Equal([Payload(300, 9)], DecodeAll([stream[..1], stream[1..2], stream[2..]]));
    }

    [Property(MaxTest = 300)]
    public Property Any_split_of_any_frames_decodes_to_the_same_datagrams()
    {
        // Lengths and seeds come from FsCheck (and shrink); the bytes themselves from a seeded generator, which is fast.
        var payloads = Gen.Zip(Gen.Choose(0, 3000), Gen.Choose(0, int.MaxValue))
            .Select(p => Payload(p.Item1, (byte)p.Item2))
            .ArrayOf();
        var cuts = Gen.Choose(1, 4000).ListOf();
        return Prop.ForAll(payloads.ToArbitrary(), cuts.ToArbitrary(), (frames, cutSizes) =>
        {
            var stream = Encode(frames);
            var chunks = new List<byte[]>();
            var position = 0;
            foreach (var size in cutSizes.Append(int.MaxValue))
            {
                var take = Math.Min(size, stream.Length - position);
                chunks.Add(stream[position..(position + take)]);
                position += take;
                if (position == stream.Length) break;
            }
            var decoded = DecodeAll(chunks);
            return decoded.Count == frames.Length && decoded.Zip(frames).All(p => p.First.AsSpan().SequenceEqual(p.Second));
        });
    }

    private static byte[] Payload(int length, byte seed) =>
        Enumerable.Range(0, length).Select(i => (byte)(i * 31 + seed)).ToArray();

    private static byte[] Encode(IEnumerable<byte[]> payloads)
    {
        var output = new ArrayBufferWriter<byte>();
        foreach (var payload in payloads) Codec.Write(payload, output);
        return output.WrittenSpan.ToArray();
    }

    private static IEnumerable<byte[]> Chunks(byte[] stream, int size)
    {
        for (var i = 0; i < stream.Length; i += size)
            yield return stream[i..Math.Min(stream.Length, i + size)];
    }

    /// <summary>Feeds segments through the decoder a tunnel connection uses.</summary>
    private static List<byte[]> DecodeAll(IEnumerable<byte[]> segments)
    {
        using var decoder = new FrameDecoder();
        var decoded = new Collected();
        foreach (var segment in segments) decoder.Decode(segment, decoded);
        Assert.Equal(0, decoder.HeldBytes);
        return decoded;
    }

    private sealed class Collected : List<byte[]>, IDatagramReceiver
    {
        public void Receive(ReadOnlySpan<byte> datagram) => Add(datagram.ToArray());
    }

    [Fact]
    public void The_decoder_holds_only_the_unfinished_frame_and_completes_it_from_the_next_segment()
    {
        using var decoder = new FrameDecoder();
        var decoded = new Collected();
        var stream = Encode([Payload(10, 1), Payload(20, 2), Payload(30, 3)]);
        decoder.Decode(stream[..17], decoded);
        Assert.Equal([Payload(10, 1)], decoded);
        Assert.Equal(5, decoder.HeldBytes);

        decoder.Decode(stream[17..], decoded);
        Assert.Equal([Payload(10, 1), Payload(20, 2), Payload(30, 3)], decoded);
        Assert.Equal(0, decoder.HeldBytes);
    }

    [Fact]
    public void Held_segments_decode_in_order_once_released()
    {
        using var decoder = new FrameDecoder();
        var stream = Encode([Payload(10, 1), Payload(20, 2), Payload(30, 3)]);
        decoder.Hold(stream[..20]);
        decoder.Hold(stream[20..40]);
        Assert.Equal(40, decoder.HeldBytes);

        var decoded = new Collected();
        decoder.DecodeHeld(decoded);
        Assert.Equal([Payload(10, 1), Payload(20, 2)], decoded);
        decoder.Decode(stream[40..], decoded);
        Assert.Equal([Payload(10, 1), Payload(20, 2), Payload(30, 3)], decoded);
        Assert.Equal(0, decoder.HeldBytes);
    }

    [Fact]
    public void Reads_advance_past_each_frame_and_frame_lengths_count_the_header()
    {
        var stream = Encode([Payload(0, 1), Payload(300, 2)]);
        ReadOnlySpan<byte> span = stream;
        Assert.True(Codec.TryRead(ref span, out var first));
        Assert.True(first.IsEmpty);
        Assert.True(Codec.TryRead(ref span, out var second));
        Assert.Equal(Payload(300, 2), second.ToArray());
        Assert.True(span.IsEmpty);
        Assert.Equal(-1, Codec.FrameLength(stream[..1]));
        Assert.Equal(2, Codec.FrameLength(stream));
    }
}
