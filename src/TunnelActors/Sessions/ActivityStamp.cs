namespace TunnelActors.Sessions;

/// <summary>
/// When a datagram last crossed a session either way. Stamped by whichever actor carries the datagram (its
/// tunnel connection's stage), read by the session's <see cref="IdleClock"/>; one store per datagram.
/// </summary>
public sealed class ActivityStamp
{
    private long _last = Environment.TickCount64;

    public long Last => Volatile.Read(ref _last);

    public void Touch() => Volatile.Write(ref _last, Environment.TickCount64);
}
