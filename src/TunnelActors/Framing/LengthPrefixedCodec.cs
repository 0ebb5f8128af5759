using System.Buffers;
using System.Buffers.Binary;

namespace TunnelActors.Framing;

/// <summary>
/// RFC 4571 framing: a 16-bit big-endian length, then exactly that many payload bytes. The format of
/// Debian's udptunnel, mullvad's udp-over-tcp and OpenVPN's TCP mode. Every length is legal, zero included,
/// so no byte stream is malformed: a frame is only ever incomplete. Pure and allocation-free.
/// </summary>
public sealed class LengthPrefixedCodec
{
    public const int HeaderLength = 2;

    /// <summary>The largest payload one frame can carry.</summary>
    public const int MaxPayloadLength = ushort.MaxValue;

    public static readonly LengthPrefixedCodec Instance = new();

    private LengthPrefixedCodec() { }

    /// <summary>How many bytes <see cref="Write"/> emits for a payload of this length.</summary>
    public int EncodedLength(int payloadLength) => HeaderLength + payloadLength;

    /// <summary>The length of the whole frame that starts at the front of <paramref name="buffer"/>, or -1 while its header is incomplete.</summary>
    public int FrameLength(ReadOnlySpan<byte> buffer) =>
        buffer.Length < HeaderLength ? -1 : HeaderLength + BinaryPrimitives.ReadUInt16BigEndian(buffer);

    /// <summary>
    /// Reads one whole frame from the front of <paramref name="buffer"/>: its payload, and <paramref name="buffer"/>
    /// advanced past it. An incomplete frame leaves the buffer as it was and returns false.
    /// </summary>
    public bool TryRead(ref ReadOnlySpan<byte> buffer, out ReadOnlySpan<byte> payload)
    {
        var frame = FrameLength(buffer);
        if (frame < 0 || buffer.Length < frame)
        {
            payload = default;
            return false;
        }

        payload = buffer[HeaderLength..frame];
        buffer = buffer[frame..];
        return true;
    }

    /// <summary>Writes one frame carrying <paramref name="payload"/> (at most <see cref="MaxPayloadLength"/> bytes).</summary>
    public void Write(ReadOnlySpan<byte> payload, IBufferWriter<byte> output)
    {
        if (payload.Length > MaxPayloadLength)
            throw new ArgumentOutOfRangeException(nameof(payload), payload.Length, $"a frame carries at most {MaxPayloadLength} bytes");

        var span = output.GetSpan(HeaderLength + payload.Length);
        BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)payload.Length);
        payload.CopyTo(span[HeaderLength..]);
        output.Advance(HeaderLength + payload.Length);
    }
}
