using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;

namespace TunnelActors.Carriers;

/// <summary>
/// RFC 6455's frame header and masking, written and read in place without allocating: the part of a WebSocket a
/// tunnel connection uses (no extensions, a data frame's payload at most 65,535 bytes, one datagram).
/// </summary>
internal static class WebSocketFrames
{
    public const byte Continuation = 0x0;
    public const byte Text = 0x1;
    public const byte Binary = 0x2;
    public const byte Close = 0x8;
    public const byte Ping = 0x9;
    public const byte Pong = 0xA;

    /// <summary>A control frame's payload is at most this (RFC 6455 5.5).</summary>
    public const int MaxControlPayload = 125;

    /// <summary>The longest header written here: a 16-bit length and a mask.</summary>
    public const int MaxWrittenHeader = 8;

    /// <summary>What a frame header says; <see cref="Size"/> is the header's own length in bytes.</summary>
    /// <param name="Mask">The masking key as the four bytes read in memory order (see <see cref="Apply"/>).</param>
    public readonly record struct Header(bool Fin, int Reserved, byte Opcode, bool Masked, uint Mask, ulong Length, int Size)
    {
        public bool IsControl => Opcode >= Close;
    }

    /// <summary>Writes a final frame's header for <paramref name="payload"/> bytes (at most 65,535), masked with <paramref name="mask"/> when <paramref name="masked"/>.</summary>
    /// <returns>The header's length.</returns>
    public static int WriteHeader(Span<byte> into, byte opcode, int payload, bool masked, uint mask)
    {
        into[0] = (byte)(0x80 | opcode);
        var maskBit = masked ? 0x80 : 0;
        int at;
        if (payload < 126)
        {
            into[1] = (byte)(maskBit | payload);
            at = 2;
        }
        else
        {
            into[1] = (byte)(maskBit | 126);
            BinaryPrimitives.WriteUInt16BigEndian(into[2..], checked((ushort)payload));
            at = 4;
        }
        if (!masked) return at;
        MemoryMarshal.Write(into[at..], in mask);
        return at + 4;
    }

    /// <summary>Reads the header <paramref name="from"/> starts with; false when it does not hold the whole header yet.</summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> from, out Header header)
    {
        header = default;
        if (from.Length < 2) return false;
        var masked = (from[1] & 0x80) != 0;
        var length = (ulong)(from[1] & 0x7F);
        var size = 2;
        if (length == 126)
        {
            if (from.Length < 4) return false;
            length = BinaryPrimitives.ReadUInt16BigEndian(from[2..]);
            size = 4;
        }
        else if (length == 127)
        {
            if (from.Length < 10) return false;
            length = BinaryPrimitives.ReadUInt64BigEndian(from[2..]);
            size = 10;
        }
        uint mask = 0;
        if (masked)
        {
            if (from.Length < size + 4) return false;
            mask = MemoryMarshal.Read<uint>(from[size..]);
            size += 4;
        }
        header = new Header((from[0] & 0x80) != 0, (from[0] >> 4) & 0x7, (byte)(from[0] & 0x0F), masked, mask, length, size);
        return true;
    }

    /// <summary>
    /// Masks or unmasks (the same XOR) <paramref name="data"/>, the payload's bytes from <paramref name="offset"/> on,
    /// with <paramref name="mask"/>, the key's four bytes read in memory order.
    /// </summary>
    public static void Apply(Span<byte> data, uint mask, int offset)
    {
        // Byte i of the payload is XORed with key byte i % 4: rotated so that data[0] meets key byte offset % 4.
        var key = BitConverter.IsLittleEndian ? BitOperations.RotateRight(mask, 8 * (offset & 3)) : BitOperations.RotateLeft(mask, 8 * (offset & 3));
        var i = 0;
        if (Vector.IsHardwareAccelerated && data.Length >= Vector<byte>.Count)
        {
            var keys = new Vector<uint>(key).As<uint, byte>();
            var vectors = MemoryMarshal.Cast<byte, Vector<byte>>(data);
            for (var v = 0; v < vectors.Length; v++) vectors[v] ^= keys;
            i = vectors.Length * Vector<byte>.Count;
        }
        var wide = ((ulong)key << 32) | key;
        for (; i + 8 <= data.Length; i += 8)
        {
            ref var word = ref MemoryMarshal.AsRef<ulong>(data.Slice(i, 8));
            word ^= wide;
        }
        Span<byte> keyBytes = stackalloc byte[4];
        MemoryMarshal.Write(keyBytes, in key);
        for (; i < data.Length; i++) data[i] ^= keyBytes[i & 3];
    }
}
