namespace TunnelActors.Links;

/// <summary>
/// When a datagram last crossed a session either way, and whether one has crossed each way at all. Stamped by
/// whichever actor carries the datagram (its tunnel connection's stage), read by the session's
/// <see cref="IdleClock"/> and its unanswered check.
/// </summary>
public sealed class ActivityStamp
{
    private long _last = Environment.TickCount64;
    private volatile bool _fromTunnel;
    private volatile bool _intoTunnel;

    public long Last => Volatile.Read(ref _last);

    /// <summary>A datagram has come out of the tunnel onto UDP.</summary>
    public bool FromTunnel => _fromTunnel;

    /// <summary>A datagram from UDP has gone into the tunnel.</summary>
    public bool IntoTunnel => _intoTunnel;

    public void Touch() => Volatile.Write(ref _last, Environment.TickCount64);

    public void SawFromTunnel()
    {
        if (!_fromTunnel) _fromTunnel = true;
    }

    public void SawIntoTunnel()
    {
        if (!_intoTunnel) _intoTunnel = true;
    }
}
