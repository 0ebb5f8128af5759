using System.Diagnostics;
using System.Net;
using Akka.Event;

namespace TunnelActors.Transport;

/// <summary>
/// Logs refusals and failures at most once per source address per minute, whatever their rate: under a
/// flood or a scan a line per connection attempt would be the attack's amplifier. What was left out in a
/// minute is counted and reported with the source's next line.
/// </summary>
public sealed class RefusalLog
{
    private static readonly long Minute = Stopwatch.Frequency * 60;
    private const int MaxSources = 4096;

    private readonly Dictionary<IPAddress, (long Since, int Suppressed)> _sources = new();

    public void Warning(ILoggingAdapter log, EndPoint source, string message)
    {
        var address = source is IPEndPoint ip ? (ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address) : IPAddress.None;
        var now = Stopwatch.GetTimestamp();
        int suppressed;
        lock (_sources)
        {
            if (_sources.TryGetValue(address, out var entry) && now - entry.Since < Minute)
            {
                _sources[address] = entry with { Suppressed = entry.Suppressed + 1 };
                return;
            }
            suppressed = entry.Suppressed;
            if (_sources.Count >= MaxSources) Forget(now);
            _sources[address] = (now, 0);
        }
        if (suppressed == 0) log.Warning("{0}", message);
        else log.Warning("{0} ({1} more from {2} in the minute before, not logged)", message, suppressed, address);
    }

    private void Forget(long now)
    {
        foreach (var stale in _sources.Where(s => now - s.Value.Since >= Minute).Select(s => s.Key).ToList())
            _sources.Remove(stale);
        if (_sources.Count >= MaxSources) _sources.Clear();
    }
}
