using Xunit;
using TunnelActors.Tools.Bench.Load;

namespace TunnelActors.Tests.Bench;

public sealed class LatencyHistogramTests
{
    [Fact]
    public void Percentiles_are_within_the_bucket_width_of_the_exact_values()
    {
        var histogram = new LatencyHistogram();
        var other = new LatencyHistogram();
        // 1 µs to 100 ms, spread over three decades, split over two histograms and merged
        var values = Enumerable.Range(1, 100_000).Select(i => (long)(1000 * Math.Pow(10, 5.0 * i / 100_000))).ToArray();
        foreach (var (value, index) in values.Select((v, i) => (v, i)))
            (index % 2 == 0 ? histogram : other).Record(value);
        histogram.Add(other);

        Assert.Equal(values.Length, histogram.Count);
        Assert.Equal(values.Max(), histogram.Max);
        Assert.Equal(values.Average(), histogram.Mean, 1e-9 * values.Average());
        foreach (var quantile in new[] { 0.5, 0.9, 0.99, 0.999 })
        {
            var exact = values[(int)Math.Ceiling(quantile * values.Length) - 1];
            Assert.InRange(histogram.Percentile(quantile), exact * 0.992, exact * 1.008);
        }
    }

    [Fact]
    public void Small_values_are_exact_and_an_empty_histogram_reads_zero()
    {
        var histogram = new LatencyHistogram();
        Assert.Equal(0, histogram.Percentile(0.5));
        foreach (var value in new long[] { 3, 5, 200 }) histogram.Record(value);
        Assert.Equal(5, histogram.Percentile(0.5));
        Assert.Equal(200, histogram.Percentile(1));
    }
}
