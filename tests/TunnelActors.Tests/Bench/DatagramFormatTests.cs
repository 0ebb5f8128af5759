using System.Text;
using Xunit;
using TunnelActors.Tools.Bench.Load;

namespace TunnelActors.Tests.Bench;

public sealed class DatagramFormatTests
{
    [Fact]
    public void Crc32C_matches_the_standard_check_value()
    {
        var crc = Crc32C.Append(Crc32C.Seed, Encoding.ASCII.GetBytes("123456789")) ^ 0xFFFFFFFF;
        Assert.Equal(0xE3069283u, crc);
    }

    [Fact]
    public void A_written_datagram_reads_back_and_any_flipped_bit_is_caught()
    {
        var pattern = new PayloadPattern(100, seed: 7);
        var datagram = new byte[DatagramHeader.Size + 100];
        var bodyCrc = pattern.CopyBody(12345, datagram.AsSpan(DatagramHeader.Size));
        var written = new DatagramHeader(Run: 42, Peer: 3, Length: datagram.Length, Sequence: 12345, Timestamp: 987654321);
        written.Write(datagram, bodyCrc);

        Assert.Equal(DatagramHeader.Verdict.Valid, DatagramHeader.TryRead(datagram, out var read));
        Assert.Equal(written, read);
        for (var bit = 0; bit < datagram.Length * 8; bit++)
        {
            datagram[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.NotEqual(DatagramHeader.Verdict.Valid, DatagramHeader.TryRead(datagram, out _));
            datagram[bit / 8] ^= (byte)(1 << (bit % 8));
        }
        Assert.Equal(DatagramHeader.Verdict.Short, DatagramHeader.TryRead(datagram.AsSpan(0, DatagramHeader.Size - 1), out _));
        Assert.Equal(DatagramHeader.Verdict.BadLength, DatagramHeader.TryRead(datagram.AsSpan(0, datagram.Length - 1), out _));
    }

    [Fact]
    public void Consecutive_datagrams_carry_different_bodies()
    {
        var pattern = new PayloadPattern(64, seed: 1);
        var first = new byte[64];
        var second = new byte[64];
        pattern.CopyBody(0, first);
        pattern.CopyBody(1, second);
        Assert.False(first.AsSpan().SequenceEqual(second));
    }
}
