using System.Buffers.Binary;

namespace TunnelActors.Tools.Bench.Load;

/// <summary>
/// The 36 bytes that start every load datagram (little-endian): magic, run id, peer id, total length,
/// per-peer sequence number, send time (Stopwatch ticks) and a CRC-32C over the body, then over the
/// header with the checksum field zero. Checksumming the body first lets a sender reuse a body's CRC.
/// </summary>
internal readonly record struct DatagramHeader(uint Run, uint Peer, int Length, long Sequence, long Timestamp)
{
    public const int Size = 36;
    public const uint Magic = 0x4C424154; // "TABL" on the wire
    private const int ChecksumOffset = 32;

    /// <summary>Writes the header in front of a body whose CRC (from <see cref="Crc32C.Seed"/>) is <paramref name="bodyCrc"/>.</summary>
    public void Write(Span<byte> datagram, uint bodyCrc)
    {
        var header = datagram[..Size];
        BinaryPrimitives.WriteUInt32LittleEndian(header, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], Run);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], Peer);
        BinaryPrimitives.WriteInt32LittleEndian(header[12..], Length);
        BinaryPrimitives.WriteInt64LittleEndian(header[16..], Sequence);
        BinaryPrimitives.WriteInt64LittleEndian(header[24..], Timestamp);
        BinaryPrimitives.WriteUInt32LittleEndian(header[ChecksumOffset..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(header[ChecksumOffset..], Crc32C.Append(bodyCrc, header));
    }

    /// <summary>Reads and checks a received datagram; <paramref name="header"/> is valid only for <see cref="Verdict.Valid"/>.</summary>
    public static Verdict TryRead(ReadOnlySpan<byte> datagram, out DatagramHeader header)
    {
        header = default;
        if (datagram.Length < Size) return Verdict.Short;
        if (BinaryPrimitives.ReadUInt32LittleEndian(datagram) != Magic) return Verdict.BadHeader;
        var length = BinaryPrimitives.ReadInt32LittleEndian(datagram[12..]);
        if (length != datagram.Length) return Verdict.BadLength;

        Span<byte> zeroed = stackalloc byte[Size];
        datagram[..Size].CopyTo(zeroed);
        BinaryPrimitives.WriteUInt32LittleEndian(zeroed[ChecksumOffset..], 0);
        var crc = Crc32C.Append(Crc32C.Append(Crc32C.Seed, datagram[Size..]), zeroed);
        if (crc != BinaryPrimitives.ReadUInt32LittleEndian(datagram[ChecksumOffset..])) return Verdict.BadChecksum;

        header = new DatagramHeader(
            BinaryPrimitives.ReadUInt32LittleEndian(datagram[4..]),
            BinaryPrimitives.ReadUInt32LittleEndian(datagram[8..]),
            length,
            BinaryPrimitives.ReadInt64LittleEndian(datagram[16..]),
            BinaryPrimitives.ReadInt64LittleEndian(datagram[24..]));
        return Verdict.Valid;
    }

    public enum Verdict { Valid, Short, BadHeader, BadLength, BadChecksum }
}
