namespace TunnelActors.Observability;

/// <summary>Why a tunnel connection, or a datagram from an unlisted source, was turned away.</summary>
public enum Refusal
{
    /// <summary>The source is not on <c>tcp.allow</c> / <c>udp.allow</c>.</summary>
    NotAllowed,
    /// <summary>The peer failed the handshake: no key, another key, another program.</summary>
    HandshakeFailed,
    /// <summary>The peer did not finish the handshake within <c>auth.handshake-timeout</c>.</summary>
    HandshakeTimeout,
    /// <summary>The source address already had <c>tcp.max-connections-per-source</c> connections (on a keyed side: the lower of it and <c>tcp.max-handshakes-per-source</c> still in their handshake).</summary>
    SourceLimit,
    /// <summary>The side already had <c>tcp.max-connections</c> connections, or was shutting down.</summary>
    SideLimit,
    /// <summary>New connections came faster than <c>tcp.new-connections-per-second</c>.</summary>
    RateLimit,
    /// <summary>An accepted connection sent no whole frame within <c>tcp.first-frame-timeout</c>.</summary>
    Silent,
    /// <summary>A WebSocket listener's request that is not a tunnel upgrade at <c>websocket.path</c> (answered as a web server would, or handed to <c>http-fallback</c>).</summary>
    NotATunnel,
}

/// <summary>How a tunnel connection came to be.</summary>
public enum LinkOrigin { Accepted, Dialed }

/// <summary>Tunnel connections of one side: opened by origin, closed, and refused by reason. Thread-safe.</summary>
public sealed class LinkCounters
{
    private readonly long[] _refused = new long[Enum.GetValues<Refusal>().Length];
    private readonly long[] _opened = new long[Enum.GetValues<LinkOrigin>().Length];
    private long _closed;
    private long _failedAttempts;
    private int _pooled;

    public long Refused(Refusal reason) => Interlocked.Read(ref _refused[(int)reason]);

    public long Opened(LinkOrigin origin) => Interlocked.Read(ref _opened[(int)origin]);

    public long Closed => Interlocked.Read(ref _closed);

    /// <summary>Attempts to get a connection to the far side that failed: refused or unanswered dials, failed handshakes.</summary>
    public long FailedAttempts => Interlocked.Read(ref _failedAttempts);

    public long Active => Opened(LinkOrigin.Accepted) + Opened(LinkOrigin.Dialed) - Closed;

    /// <summary>Connections in the pool, idle (or still dialing) until a peer takes them; set by the pool.</summary>
    public int Pooled
    {
        get => Volatile.Read(ref _pooled);
        set => Volatile.Write(ref _pooled, value);
    }

    public void CountRefused(Refusal reason) => Interlocked.Increment(ref _refused[(int)reason]);

    public void CountOpened(LinkOrigin origin) => Interlocked.Increment(ref _opened[(int)origin]);

    public void CountClosed() => Interlocked.Increment(ref _closed);

    public void CountFailedAttempt() => Interlocked.Increment(ref _failedAttempts);

    public override string ToString()
    {
        var refused = string.Join(", ", Enum.GetValues<Refusal>().Where(r => Refused(r) > 0).Select(r => $"{r}={Refused(r)}"));
        return $"tunnel connections accepted {Opened(LinkOrigin.Accepted)}, dialed {Opened(LinkOrigin.Dialed)}, " +
               $"refused {(refused.Length == 0 ? "none" : refused)}";
    }
}
