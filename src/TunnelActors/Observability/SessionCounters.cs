namespace TunnelActors.Observability;

/// <summary>Why a session ended (the <c>reason</c> of the sessions-ended metric).</summary>
public enum SessionEndReason
{
    /// <summary>No datagram either way for <c>session.idle-timeout</c>.</summary>
    Idle,
    /// <summary>Nothing came back within <c>session.unanswered-timeout</c>.</summary>
    Unanswered,
    /// <summary>Its tunnel connection closed, and no new one took its place.</summary>
    ConnectionLost,
    /// <summary>Never answered, and evicted so that a new peer could have its place (<c>session.max-sessions</c>).</summary>
    Evicted,
    /// <summary>The forward socket could not be bound (a fixed <c>udp.forward-bind</c> port in use).</summary>
    BindFailed,
    /// <summary>The side shut down.</summary>
    Shutdown,
    /// <summary>The session failed, or was stopped from outside.</summary>
    Stopped,
}

/// <summary>Sessions of one side: started, ended by reason, and so active. Thread-safe.</summary>
public sealed class SessionCounters
{
    private readonly long[] _ended = new long[Enum.GetValues<SessionEndReason>().Length];
    private long _started;
    private long _reconnected;
    private long _peak;

    public long Started => Interlocked.Read(ref _started);

    public long Ended(SessionEndReason reason) => Interlocked.Read(ref _ended[(int)reason]);

    /// <summary>Times a session took a new tunnel connection after losing one.</summary>
    public long Reconnected => Interlocked.Read(ref _reconnected);

    public long Active => Started - Enum.GetValues<SessionEndReason>().Sum(Ended);

    /// <summary>The most sessions there have been at once.</summary>
    public long Peak => Interlocked.Read(ref _peak);

    public void CountStarted()
    {
        Interlocked.Increment(ref _started);
        var active = Active;
        for (var peak = Peak; active > peak; peak = Peak)
            if (Interlocked.CompareExchange(ref _peak, active, peak) == peak) break;
    }

    public void CountReconnected() => Interlocked.Increment(ref _reconnected);

    public void CountEnded(SessionEndReason reason) => Interlocked.Increment(ref _ended[(int)reason]);
}
