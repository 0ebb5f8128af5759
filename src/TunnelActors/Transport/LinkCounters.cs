namespace TunnelActors.Transport;

/// <summary>Why a tunnel connection, or a datagram from an unlisted source, was turned away.</summary>
public enum Refusal
{
    /// <summary>The source is not on <c>tcp.allow</c> / <c>udp.allow</c>.</summary>
    NotAllowed,
    /// <summary>The peer failed the handshake: no key, another key, another program.</summary>
    HandshakeFailed,
    /// <summary>The peer did not finish the handshake within <c>auth.handshake-timeout</c>.</summary>
    HandshakeTimeout,
    /// <summary>The source address already had <c>session.max-per-source</c> connections.</summary>
    SourceLimit,
    /// <summary>The side already had <c>session.max-sessions</c> connections, or was shutting down.</summary>
    SideLimit,
    /// <summary>New connections came faster than <c>session.new-per-second</c>.</summary>
    RateLimit,
    /// <summary>An accepted connection sent nothing within <c>tcp.first-frame-timeout</c>.</summary>
    Silent,
    /// <summary>The peer sent bytes that the wire format cannot read as frames.</summary>
    Malformed,
}

/// <summary>Refused connections and datagrams of one side, by reason. Thread-safe.</summary>
public sealed class LinkCounters
{
    private readonly long[] _refused = new long[Enum.GetValues<Refusal>().Length];

    public long Refused(Refusal reason) => Interlocked.Read(ref _refused[(int)reason]);

    public void CountRefused(Refusal reason) => Interlocked.Increment(ref _refused[(int)reason]);
}
