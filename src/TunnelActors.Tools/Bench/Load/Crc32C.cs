using System.Buffers.Binary;
using System.Numerics;

namespace TunnelActors.Tools.Bench.Load;

/// <summary>CRC-32C (Castagnoli), eight bytes per step; the CPU's CRC32 instruction where it has one.</summary>
internal static class Crc32C
{
    public const uint Seed = 0xFFFFFFFF;

    /// <summary>Continues <paramref name="crc"/> over <paramref name="data"/> (no final inversion).</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }
        foreach (var b in data) crc = BitOperations.Crc32C(crc, b);
        return crc;
    }
}
