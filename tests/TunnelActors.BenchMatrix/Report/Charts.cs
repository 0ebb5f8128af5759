using ScottPlot;
using TunnelActors.BenchMatrix.Paths;

namespace TunnelActors.BenchMatrix.Report;

/// <summary>Grouped bar charts, one group per configuration and one bar per path, saved as SVG.</summary>
internal static class Charts
{
    private const int Width = 1100, Height = 480;

    public static void Throughput(IReadOnlyList<Summary> summaries, string file) =>
        Save(summaries, file, "Received datagrams per second (median)", s => s.Rx, logarithmic: false, "datagrams/s");

    public static void P99(IReadOnlyList<Summary> summaries, string file) =>
        Save(summaries, file, "Round-trip time, 99th percentile (median of runs)", s => s.P99, logarithmic: true, "µs");

    private static void Save(IReadOnlyList<Summary> summaries, string file, string title, Func<Summary, double> value, bool logarithmic, string unit)
    {
        var configurations = summaries.Select(s => s.Configuration).Distinct().OrderBy(c => c.Peers).ThenBy(c => c.Size).ThenBy(c => c.Rate != "max").ThenBy(c => c.Rate).ToList();
        var paths = summaries.Select(s => s.Path).Distinct().Order().ToList();
        var palette = new ScottPlot.Palettes.Category10();
        var plot = new Plot();
        var bars = new List<Bar>();
        var groupWidth = paths.Count + 1;
        foreach (var summary in summaries)
        {
            var group = configurations.IndexOf(summary.Configuration);
            var series = paths.IndexOf(summary.Path);
            var y = value(summary);
            bars.Add(new Bar
            {
                Position = group * groupWidth + series,
                Value = logarithmic ? Math.Log10(Math.Max(1, y)) : y,
                FillColor = palette.GetColor(series),
                LineWidth = 0,
            });
        }
        plot.Add.Bars(bars);
        foreach (var (path, series) in paths.Select((p, i) => (p, i)))
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = path.Name(), FillColor = palette.GetColor(series) });
        plot.ShowLegend(Edge.Right);

        var groups = new ScottPlot.TickGenerators.NumericManual();
        foreach (var (configuration, group) in configurations.Select((c, i) => (c, i)))
            groups.AddMajor(group * groupWidth + (paths.Count - 1) / 2.0, configuration.Short);
        plot.Axes.Bottom.TickGenerator = groups;
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.Bottom.TickLabelStyle.Rotation = -30;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleRight;
        plot.Axes.Bottom.MinimumSize = 90;

        if (logarithmic)
        {
            var decades = new ScottPlot.TickGenerators.NumericManual();
            var top = bars.Count == 0 ? 1 : (int)Math.Ceiling(bars.Max(b => b.Value));
            for (var exponent = 0; exponent <= top; exponent++)
                decades.AddMajor(exponent, exponent < 3 ? $"{Math.Pow(10, exponent):0} µs" : exponent < 6 ? $"{Math.Pow(10, exponent - 3):0} ms" : $"{Math.Pow(10, exponent - 6):0} s");
            plot.Axes.Left.TickGenerator = decades;
            plot.Axes.SetLimitsY(0, top + 0.5);
        }
        else
        {
            plot.Axes.Margins(bottom: 0);
            plot.Axes.Left.Label.Text = unit;
        }
        plot.Title(title);
        plot.SaveSvg(file, Width, Height);
    }
}
