using System.Numerics;

namespace TunnelActors.Tools.Bench.Load;

/// <summary>
/// Round-trip times in nanoseconds, counted in log-linear buckets: exact below 256 ns, then 128 buckets per
/// power of two (under 0.8 % wide). Fixed size, so recording never allocates. Not thread-safe.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int Linear = 256;
    private const int SubBits = 7;
    private const int Sub = 1 << SubBits;
    private readonly long[] _buckets = new long[Linear + (64 - 8) * Sub];

    public long Count { get; private set; }
    public long Max { get; private set; }
    private double _sum;

    public double Mean => Count == 0 ? 0 : _sum / Count;

    public void Record(long nanoseconds)
    {
        var value = Math.Max(0, nanoseconds);
        _buckets[Index(value)]++;
        Count++;
        _sum += value;
        if (value > Max) Max = value;
    }

    public void Add(LatencyHistogram other)
    {
        for (var i = 0; i < _buckets.Length; i++) _buckets[i] += other._buckets[i];
        Count += other.Count;
        _sum += other._sum;
        Max = Math.Max(Max, other.Max);
    }

    /// <summary>The value below which the fraction <paramref name="quantile"/> of samples lie (bucket midpoint, at most Max).</summary>
    public double Percentile(double quantile)
    {
        if (Count == 0) return 0;
        var wanted = Math.Max(1, (long)Math.Ceiling(quantile * Count));
        long seen = 0;
        for (var i = 0; i < _buckets.Length; i++)
        {
            seen += _buckets[i];
            if (seen >= wanted) return Math.Min(Midpoint(i), Max);
        }
        return Max;
    }

    private static int Index(long value)
    {
        if (value < Linear) return (int)value;
        var exponent = 63 - BitOperations.LeadingZeroCount((ulong)value);
        var mantissa = (int)(value >> (exponent - SubBits)) - Sub;
        return Linear + (exponent - 8) * Sub + mantissa;
    }

    private static double Midpoint(int index)
    {
        if (index < Linear) return index;
        var exponent = 8 + (index - Linear) / Sub;
        var mantissa = Sub + (index - Linear) % Sub;
        var low = (double)((long)mantissa << (exponent - SubBits));
        var high = (double)((long)(mantissa + 1) << (exponent - SubBits));
        return (low + high) / 2;
    }
}
