using System.Net;
using Akka.Event;

namespace TunnelActors.Observability;

/// <summary>
/// Logs one kind of line (a refusal, a failed dial, a session started or ended) at most once per source
/// address per minute, and at most <see cref="MaxLinesPerWindow"/> times a minute in all, whatever the rate:
/// under a flood, a scan or thousands of spoofed ports or addresses, a line per attempt would be the attack's
/// amplifier. What was left out is counted and reported with the next line logged.
/// </summary>
public sealed class ThrottledLog(LogLevel level, AddressDisplay addresses, TimeProvider? time = null)
{
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    public const int MaxLinesPerWindow = 60;
    private const int MaxSources = 4096;

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Dictionary<IPAddress, (long Since, int Suppressed)> _sources = new();
    private long _windowStart = long.MinValue;
    private int _linesInWindow;
    private int _suppressedOverall;

    /// <summary>Logs <paramref name="message"/> unless this source or the side as a whole has had its lines for the minute.</summary>
    public void Log(ILoggingAdapter log, EndPoint source, string message)
    {
        var address = source is IPEndPoint ip ? (ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address) : IPAddress.None;
        var now = _time.GetTimestamp();
        int suppressedHere, suppressedOverall;
        lock (_sources)
        {
            if (_sources.TryGetValue(address, out var entry) && Within(entry.Since, now))
            {
                _sources[address] = entry with { Suppressed = entry.Suppressed + 1 };
                return;
            }
            if (!Within(_windowStart, now))
            {
                _windowStart = now;
                _linesInWindow = 0;
            }
            if (_linesInWindow == MaxLinesPerWindow)
            {
                _suppressedOverall++;
                return;
            }
            _linesInWindow++;
            suppressedHere = entry.Suppressed;
            suppressedOverall = _suppressedOverall;
            _suppressedOverall = 0;
            if (_sources.Count >= MaxSources) Forget(now);
            _sources[address] = (now, 0);
        }
        if (suppressedHere > 0) message += $" ({suppressedHere} more like it from {addresses.Show(address)} in the minute before, not logged)";
        if (suppressedOverall > 0) message += $" ({suppressedOverall} more like it from other sources, not logged: over {MaxLinesPerWindow} a minute)";
        log.Log(level, "{0}", [message]);
    }

    private bool Within(long since, long now) => since != long.MinValue && _time.GetElapsedTime(since, now) < Window;

    private void Forget(long now)
    {
        foreach (var stale in _sources.Where(s => !Within(s.Value.Since, now)).Select(s => s.Key).ToList())
            _sources.Remove(stale);
        if (_sources.Count >= MaxSources) _sources.Clear();
    }
}
