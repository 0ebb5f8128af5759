namespace TunnelActors.Tools.Bench.Load;

/// <summary>
/// Datagram bodies: windows into one random pattern, shifted by the sequence number, so consecutive datagrams
/// differ; the CRC of each of the few distinct bodies is computed once, at start.
/// </summary>
internal sealed class PayloadPattern
{
    private const int Shifts = 512;
    private const int Step = 8;
    private readonly byte[] _pattern;
    private readonly uint[] _bodyCrcs = new uint[Shifts];

    public PayloadPattern(int bodyLength, int seed)
    {
        BodyLength = bodyLength;
        _pattern = new byte[bodyLength + Shifts * Step];
        new Random(seed).NextBytes(_pattern);
        for (var shift = 0; shift < Shifts; shift++)
            _bodyCrcs[shift] = Crc32C.Append(Crc32C.Seed, Body(shift));
    }

    public int BodyLength { get; }

    /// <summary>Copies the body of datagram <paramref name="sequence"/>; returns its CRC.</summary>
    public uint CopyBody(long sequence, Span<byte> destination)
    {
        var shift = (int)(sequence % Shifts);
        Body(shift).CopyTo(destination);
        return _bodyCrcs[shift];
    }

    private ReadOnlySpan<byte> Body(int shift) => _pattern.AsSpan(shift * Step, BodyLength);
}
