using System.Diagnostics.Metrics;

namespace TunnelActors.Observability;

/// <summary>
/// The side's figures as <c>System.Diagnostics.Metrics</c> instruments of the meter <c>TunnelActors</c>
/// (<c>dotnet-counters monitor --counters TunnelActors</c>, and <c>/metrics</c>). Every instrument is
/// observable: it reads the counters the data path keeps anyway, so a datagram costs nothing more. Tags stay
/// few and fixed: the side, its orientation, its carrier (<c>tcp</c> or <c>tls</c>), and a direction or reason; never a
/// peer address.
/// </summary>
public sealed class TunnelMetrics : IDisposable
{
    public const string MeterName = "TunnelActors";

    private readonly Meter _meter;

    /// <summary>What the instruments read: one side's counters.</summary>
    /// <param name="QueuedBytes">Bytes of datagrams the side's queues hold now.</param>
    public sealed record Sources(TrafficCounters Traffic, SessionCounters Sessions, LinkCounters Links, EndpointHealth Endpoints,
        BufferCounters ReceiveBuffers, ReceiveCounters ReceiveThreads, Func<long> QueuedBytes);

    public TunnelMetrics(Sources side, string sideName, string orientation, string carrier)
    {
        _meter = new Meter(MeterName, typeof(TunnelMetrics).Assembly.GetName().Version?.ToString());
        var common = new[] { Tag("side", sideName), Tag("orientation", orientation), Tag("carrier", carrier) };
        KeyValuePair<string, object?>[] With(string key, string value) => [.. common, Tag(key, value)];

        var traffic = side.Traffic;
        var toTcp = With("direction", "udp-to-tcp");
        var toUdp = With("direction", "tcp-to-udp");
        _meter.CreateObservableCounter("datagrams", () => new[]
        {
            new Measurement<long>(traffic.ToTcpDatagrams, toTcp), new Measurement<long>(traffic.ToUdpDatagrams, toUdp),
        }, "{datagram}", "Datagrams carried, by direction");
        _meter.CreateObservableCounter("bytes", () => new[]
        {
            new Measurement<long>(traffic.ToTcpBytes, toTcp), new Measurement<long>(traffic.ToUdpBytes, toUdp),
        }, "By", "Datagram payload bytes carried, by direction");
        _meter.CreateObservableCounter("drops", ByReason<DropReason>(traffic.Dropped, With), "{datagram}",
            "Datagrams dropped, by reason (docs/operations.md)");

        var sessions = side.Sessions;
        _meter.CreateObservableUpDownCounter("sessions.active", () => new Measurement<long>(sessions.Active, common), "{session}",
            "Sessions now: phantom peers on the UDP-listen side, tunnel connections in use on the forward side");
        _meter.CreateObservableCounter("sessions.started", () => new Measurement<long>(sessions.Started, common), "{session}",
            "Sessions started");
        _meter.CreateObservableCounter("sessions.ended", ByReason<SessionEndReason>(sessions.Ended, With), "{session}",
            "Sessions ended, by reason");
        _meter.CreateObservableCounter("sessions.reconnected", () => new Measurement<long>(sessions.Reconnected, common), "{session}",
            "Times a session took a new tunnel connection after losing one (session.reconnect-grace)");

        var links = side.Links;
        _meter.CreateObservableUpDownCounter("connections.active", () => new Measurement<long>(links.Active, common), "{connection}",
            "Tunnel connections open now");
        _meter.CreateObservableCounter("connections.opened", ByReason<LinkOrigin>(links.Opened, With, "origin"), "{connection}",
            "Tunnel connections opened, accepted or dialed");
        _meter.CreateObservableUpDownCounter("connections.pooled", () => new Measurement<long>(links.Pooled, common), "{connection}",
            "Idle tunnel connections in the pool, waiting for a new peer (seed deployment)");
        _meter.CreateObservableCounter("connections.closed", () => new Measurement<long>(links.Closed, common), "{connection}",
            "Tunnel connections closed");
        _meter.CreateObservableCounter("connections.failed-attempts", () => new Measurement<long>(links.FailedAttempts, common), "{attempt}",
            "Attempts to reach the far side that failed: refused or unanswered dials, failed handshakes (tcp.reconnect backs them off)");
        _meter.CreateObservableCounter("connections.refused", ByReason<Refusal>(links.Refused, With), "{connection}",
            "Tunnel connections refused, by reason: not allowed, failed handshakes, limits");

        var queued = side.QueuedBytes;
        _meter.CreateObservableUpDownCounter("queue.bytes", () => new Measurement<long>(queued(), common), "By",
            "Bytes of datagrams the side's queues hold now (at most tunnel.queue-memory)");
        var buffers = side.ReceiveBuffers;
        _meter.CreateObservableUpDownCounter("udp.receive-buffers", () => new[]
        {
            new Measurement<long>(buffers.InUse, With("state", "in-use")), new Measurement<long>(buffers.Free, With("state", "free")),
        }, "By", "Bytes of UDP receive buffers, in use by sockets and kept free (akka.io.udp.tunnel-buffer-pool.keep-free)");
        var threads = side.ReceiveThreads;
        _meter.CreateObservableCounter("udp.received", () => threads.Threads.Select(t => new Measurement<long>(t.Datagrams, With("thread", t.Thread))),
            "{datagram}", "Datagrams each UDP receive thread took (tunnel.udp.receive-threads): how the side's traffic is spread over cores");
        var health = side.Endpoints;
        _meter.CreateObservableUpDownCounter("endpoints.bound", () => health.Endpoints.Select(e =>
            new Measurement<long>(e.Value ? 1 : 0, With("endpoint", e.Key))), "{endpoint}", "1 while the endpoint's socket is bound");
    }

    private static Func<IEnumerable<Measurement<long>>> ByReason<T>(Func<T, long> read,
        Func<string, string, KeyValuePair<string, object?>[]> with, string key = "reason") where T : struct, Enum
    {
        var tagged = Enum.GetValues<T>().Select(value => (value, tags: with(key, TagValue(value.ToString())))).ToArray();
        return () => tagged.Select(t => new Measurement<long>(read(t.value), t.tags));
    }

    /// <summary>QueueDelay → queue-delay.</summary>
    internal static string TagValue(string name) =>
        string.Concat(name.Select((c, i) => char.IsUpper(c) && i > 0 ? $"-{char.ToLowerInvariant(c)}" : char.ToLowerInvariant(c).ToString()));

    private static KeyValuePair<string, object?> Tag(string key, string value) => new(key, value);

    public void Dispose() => _meter.Dispose();
}
