using System.Globalization;

namespace TunnelActors.Tools.Bench.Load;

/// <summary>The live one-line display on a terminal: rewritten in place, cleared at the end.</summary>
internal sealed class ProgressLine(TextWriter terminal, LoadOptions options)
{
    private long _lastReceived;
    private TimeSpan _lastElapsed;
    private int _width;

    public void Show(LoadProgress p)
    {
        var rate = (p.Received - _lastReceived) / Math.Max(1e-3, (p.Elapsed - _lastElapsed).TotalSeconds);
        _lastReceived = p.Received;
        _lastElapsed = p.Elapsed;
        var phase = p.Phase switch { LoadPhase.WarmUp => "warm-up", LoadPhase.Measuring => "measuring", _ => "draining" };
        var total = (options.Warmup + options.Duration).TotalSeconds;
        var line = string.Create(CultureInfo.InvariantCulture,
            $"{phase} {p.Elapsed.TotalSeconds:0.0}/{total:0.#} s  sent {p.Sent}  received {p.Received}  rx {rate:0}/s  outstanding {p.Sent - p.Received}  misdelivered {p.Misdelivered}  corrupted {p.Corrupted}");
        _width = Math.Max(_width, line.Length);
        terminal.Write("\r" + line.PadRight(_width));
    }

    public void Clear()
    {
        if (_width > 0) terminal.Write("\r" + new string(' ', _width) + "\r");
    }
}
