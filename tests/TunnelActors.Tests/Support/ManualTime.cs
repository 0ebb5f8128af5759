namespace TunnelActors.Tests.Support;

/// <summary>A clock that moves only when told: for what is throttled per minute.</summary>
public sealed class ManualTime : TimeProvider
{
    private long _now = 1;
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;
    public override long GetTimestamp() => _now;
    public void Advance(TimeSpan by) => _now += by.Ticks;
}
