namespace TunnelActors.Observability;

/// <summary>Why a datagram did not make it across.</summary>
public enum DropReason
{
    /// <summary>The session's queue towards a TCP connection that is not up yet was full (<c>session.queue-limit</c>).</summary>
    SessionQueueFull,
    /// <summary>The TCP connection's send queue was full (slow or stalled peer; <c>tcp.send-queue-limit</c>).</summary>
    TcpSendQueueFull,
    /// <summary>An actor's inbox already held its <c>queue-limit</c> of datagrams (<c>tunnel.mailbox</c>).</summary>
    QueueFull,
    /// <summary>All queues of the side together already held <c>tunnel.queue-memory</c>.</summary>
    SideMemoryFull,
    /// <summary>Waited longer than <c>tcp.max-queue-delay</c> for the TCP connection: dropped, not sent late.</summary>
    QueueDelay,
    /// <summary>
    /// The kernel refused the datagram: the socket's send buffer, or the interface's queue, was full (EAGAIN,
    /// ENOBUFS). Named from when it counted every refused send, and kept: its metric tag still means what its
    /// advice (raise the buffer) was about.
    /// </summary>
    UdpSendFailed,
    /// <summary>A local firewall rule or a prohibit route refused the datagram (EPERM, EACCES).</summary>
    UdpSendForbidden,
    /// <summary>No route to the destination, or its interface was down (ENETUNREACH, EHOSTUNREACH, EHOSTDOWN, ENETDOWN, EADDRNOTAVAIL).</summary>
    UdpSendUnreachable,
    /// <summary>The kernel would not send a datagram that large on the path (EMSGSIZE).</summary>
    UdpSendTooLarge,
    /// <summary>The kernel refused the datagram for another reason; the warning names the error.</summary>
    UdpSendOther,
    /// <summary>A frame longer than UDP can carry on this address family.</summary>
    Oversize,
    /// <summary>A datagram on a forward socket that did not come from the target.</summary>
    ForeignSource,
    /// <summary>A frame on an accepted connection that no peer is bound to yet.</summary>
    NoPeerBound,
    /// <summary>A datagram from a source not on <c>udp.allow</c>.</summary>
    NotAllowed,
    /// <summary>A new peer from a source address that already had <c>session.max-per-source</c> sessions.</summary>
    SourceLimit,
    /// <summary>A new peer beyond <c>session.new-per-second</c>.</summary>
    RateLimit,
    /// <summary>A new peer arrived while <c>session.max-sessions</c> were active.</summary>
    SessionLimit,
    /// <summary>A datagram still queued for a connection that had just ended.</summary>
    Undelivered,
}

/// <summary>
/// Datagrams, bytes and drops in each direction. Thread-safe: a session or flow and its connection both count.
/// Counts made on a session also roll up into the side-wide counters it was created with.
/// </summary>
public sealed class TrafficCounters
{
    private static readonly int ReasonCount = Enum.GetValues<DropReason>().Length;

    private readonly TrafficCounters? _side;
    private readonly long[] _drops = new long[ReasonCount];
    private long _toTcpDatagrams, _toTcpBytes, _toUdpDatagrams, _toUdpBytes;

    public TrafficCounters(TrafficCounters? side = null) => _side = side;

    public long ToTcpDatagrams => Interlocked.Read(ref _toTcpDatagrams);
    public long ToTcpBytes => Interlocked.Read(ref _toTcpBytes);
    public long ToUdpDatagrams => Interlocked.Read(ref _toUdpDatagrams);
    public long ToUdpBytes => Interlocked.Read(ref _toUdpBytes);
    public long Dropped(DropReason reason) => Interlocked.Read(ref _drops[(int)reason]);
    public long TotalDropped => Enum.GetValues<DropReason>().Sum(Dropped);

    /// <summary>Datagrams received on UDP and written into the tunnel (handed to the socket).</summary>
    public void CountToTcp(int datagrams, int bytes)
    {
        Interlocked.Add(ref _toTcpDatagrams, datagrams);
        Interlocked.Add(ref _toTcpBytes, bytes);
        _side?.CountToTcp(datagrams, bytes);
    }

    /// <summary>A datagram taken out of the tunnel and sent on UDP.</summary>
    public void CountToUdp(int bytes)
    {
        Interlocked.Increment(ref _toUdpDatagrams);
        Interlocked.Add(ref _toUdpBytes, bytes);
        _side?.CountToUdp(bytes);
    }

    public void CountDrop(DropReason reason)
    {
        Interlocked.Increment(ref _drops[(int)reason]);
        _side?.CountDrop(reason);
    }

    public void CountDrops(DropReason reason, int count)
    {
        if (count == 0) return;
        Interlocked.Add(ref _drops[(int)reason], count);
        _side?.CountDrops(reason, count);
    }

    public override string ToString()
    {
        var drops = string.Join(", ", Enum.GetValues<DropReason>()
            .Where(r => Dropped(r) > 0)
            .Select(r => $"{r}={Dropped(r)}"));
        return $"udp→tcp {ToTcpDatagrams} datagrams/{ToTcpBytes} B, tcp→udp {ToUdpDatagrams} datagrams/{ToUdpBytes} B, " +
               $"dropped {(drops.Length == 0 ? "none" : drops)}";
    }
}
