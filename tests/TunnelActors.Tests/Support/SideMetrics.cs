using System.Diagnostics.Metrics;
using TunnelActors.Observability;

namespace TunnelActors.Tests.Support;

/// <summary>
/// Reads a side's <c>TunnelActors</c> instruments the way any .NET metrics consumer does (a
/// <see cref="MeterListener"/>): what the fault tests assert on.
/// </summary>
public static class SideMetrics
{
    /// <summary>
    /// The current value of <paramref name="instrument"/> for the side named <paramref name="side"/> (its actor
    /// system's name), summed over the measurements whose tags include every one of <paramref name="tags"/>.
    /// </summary>
    public static long Read(string side, string instrument, params (string Key, string Value)[] tags)
    {
        long total = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (i, l) =>
        {
            if (i.Meter.Name == TunnelMetrics.MeterName && i.Name == instrument) l.EnableMeasurementEvents(i);
        };
        listener.SetMeasurementEventCallback<long>((_, value, measured, _) =>
        {
            var found = new Dictionary<string, string?>();
            foreach (var tag in measured) found[tag.Key] = tag.Value?.ToString();
            if (found.GetValueOrDefault("side") == side && tags.All(t => found.GetValueOrDefault(t.Key) == t.Value)) total += value;
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return total;
    }
}
