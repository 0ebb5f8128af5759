using System.Buffers;
using System.Buffers.Binary;

namespace TunnelActors.Framing;

/// <summary>
/// RFC 4571 framing: a 16-bit big-endian length, then exactly that many payload bytes. The format of
/// Debian's udptunnel, mullvad's udp-over-tcp and OpenVPN's TCP mode. Every length is legal, zero included.
/// </summary>
public sealed class LengthPrefixedCodec : IFrameCodec
{
    public const int HeaderLength = 2;

    public static readonly LengthPrefixedCodec Instance = new();

    public int MaxPayloadLength => ushort.MaxValue;

    public int EncodedLength(int payloadLength) => HeaderLength + payloadLength;

    public int FrameLength(ReadOnlySpan<byte> buffer) =>
        buffer.Length < HeaderLength ? -1 : HeaderLength + BinaryPrimitives.ReadUInt16BigEndian(buffer);

    public bool TryRead(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> payload)
    {
        if (buffer.Length < HeaderLength)
        {
            payload = default;
            return false;
        }

        int length;
        var first = buffer.FirstSpan;
        if (first.Length >= HeaderLength)
        {
            length = BinaryPrimitives.ReadUInt16BigEndian(first);
        }
        else
        {
            Span<byte> header = stackalloc byte[HeaderLength];
            buffer.Slice(0, HeaderLength).CopyTo(header);
            length = BinaryPrimitives.ReadUInt16BigEndian(header);
        }

        if (buffer.Length < HeaderLength + length)
        {
            payload = default;
            return false;
        }

        payload = buffer.Slice(HeaderLength, length);
        buffer = buffer.Slice(payload.End);
        return true;
    }

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
