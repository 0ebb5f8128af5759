using System.Diagnostics;
using System.Net;
using Akka.Event;

namespace TunnelActors.Transport;

/// <summary>
/// Logs one kind of line (a refusal, a session started, a session ended) at most once per source address per
/// minute, whatever the rate: under a flood, a scan or thousands of spoofed ports, a line per attempt would be
/// the attack's amplifier. What was left out in a minute is counted and reported with the source's next line.
/// </summary>
public sealed class ThrottledLog(LogLevel level)
{
    private static readonly long Minute = Stopwatch.Frequency * 60;
    private const int MaxSources = 4096;

    private readonly Dictionary<IPAddress, (long Since, int Suppressed)> _sources = new();

    public void Log(ILoggingAdapter log, EndPoint source, string message)
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
        log.Log(level, "{0}", [suppressed == 0 ? message : $"{message} ({suppressed} more like it from {address} in the minute before, not logged)"]);
    }

    private void Forget(long now)
    {
        foreach (var stale in _sources.Where(s => now - s.Value.Since >= Minute).Select(s => s.Key).ToList())
            _sources.Remove(stale);
        if (_sources.Count >= MaxSources) _sources.Clear();
    }
}
