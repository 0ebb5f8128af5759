using System.Security.Cryptography.X509Certificates;
using System.Net;
using TunnelActors.Auth;

namespace TunnelActors.Configuration;

public enum UdpRole { Listen, Forward }

public enum TcpRole { Listen, Connect }

/// <summary>What runs the side's actors (<c>tunnel.executor</c>).</summary>
public enum ExecutorKind
{
    /// <summary>Each actor on the thread that hands it work: no thread switch per hop; as many cores as threads bring work.</summary>
    Inline,
    /// <summary>.NET's thread pool: every core, at the cost of a thread wake-up for most actor hops.</summary>
    ThreadPool,
}

/// <summary>Exponential backoff with jitter; <see cref="MaxRetries"/> 0 means retry forever.</summary>
public sealed record BackoffSettings(TimeSpan MinBackoff, TimeSpan MaxBackoff, double RandomFactor, int MaxRetries)
{
    public TimeSpan Delay(int attempt)
    {
        var exponential = MinBackoff.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 30));
        var bounded = Math.Min(MaxBackoff.TotalMilliseconds, exponential);
        return TimeSpan.FromMilliseconds(bounded * (1 + Random.Shared.NextDouble() * RandomFactor));
    }

    public bool GivesUpAfter(int failures) => MaxRetries > 0 && failures >= MaxRetries;
}

public sealed record KeepAliveSettings(bool Enabled, TimeSpan Idle, TimeSpan Interval, int Count);

/// <summary>Who owns the side's UDP sockets (<c>tunnel.udp.io</c>).</summary>
public enum UdpIo
{
    /// <summary>The side's own sockets: <c>receive-threads</c> receiving threads, up to <c>receive-batch</c> datagrams per <c>recvmmsg</c> (64-bit Linux).</summary>
    Batched,
    /// <summary>Akka.IO's UDP: one system call per datagram received; every platform.</summary>
    Akka,
}

/// <param name="Allow">Sources datagrams are taken from on the UDP-listen socket; empty = any.</param>
/// <param name="Io">Who owns the UDP sockets; <see cref="UdpIo.Batched"/> where it cannot be had falls back to Akka.IO.</param>
/// <param name="ReceiveBatch">Datagrams one <c>recvmmsg</c> takes at most.</param>
/// <param name="ReceiveThreads">Threads that receive for the side's own sockets, each socket always on the same one (0 in the file: one per core).</param>
public sealed record UdpTunnelSettings(UdpRole Role, IPEndPoint Endpoint, IPEndPoint? ForwardBind, int ReceiveBuffer, int SendBuffer, AllowList Allow,
    UdpIo Io, int ReceiveBatch, int ReceiveThreads);

/// <param name="Endpoint">Where to listen, or the dial target as resolved at start-up.</param>
/// <param name="DialTarget">Where to dial: a host name stays a name, resolved again on every dial.</param>
public sealed record TcpTunnelSettings(
    TcpRole Role,
    IPEndPoint Endpoint,
    EndPoint DialTarget,
    int PoolSize,
    int ListenBacklog,
    TimeSpan ConnectTimeout,
    BackoffSettings Reconnect,
    int SendQueueLimit,
    TimeSpan MaxQueueDelay,
    int MaxWrite,
    int SendBuffer,
    int ReceiveBuffer,
    int NotSentLowWater,
    TimeSpan CloseTimeout,
    KeepAliveSettings KeepAlive,
    AllowList Allow,
    TimeSpan FirstFrameTimeout,
    int MaxConnections,
    int MaxConnectionsPerSource,
    int NewConnectionsPerSecond,
    TimeSpan UserTimeout,
    int PoolMax,
    TimeSpan PoolShrinkAfter,
    int MaxHandshakesPerSource);

/// <param name="Key">The pre-shared key every tunnel connection proves (<c>tunnel.auth.psk-file</c>); null = plain RFC 4571.</param>
/// <param name="MaxClockSkew">How far a dialer's clock may be from a listener's (<c>tunnel.auth.max-clock-skew</c>): its hello's age.</param>
/// <param name="ReplayMemory">Hellos a listener remembers to refuse a replay (<c>tunnel.auth.replay-memory</c>).</param>
public sealed record AuthSettings(PreSharedKey? Key, TimeSpan HandshakeTimeout, bool AllowUnauthenticated, TimeSpan MaxClockSkew, int ReplayMemory);

/// <param name="MaxPerSource">Sessions one source address may have on the UDP-listen side.</param>
/// <param name="NewPerSecond">New sessions per second on the UDP-listen side, at most.</param>
/// <param name="UnansweredTimeout">A session whose far end never answered ends after this; zero = never.</param>
/// <param name="ReconnectGrace">How long a UDP-listen session outlives its lost connection while it gets another; zero = not at all.</param>
public sealed record SessionSettings(TimeSpan IdleTimeout, int QueueLimit, TimeSpan QueueMaxDelay, int MaxSessions,
    int MaxPerSource, int NewPerSecond, TimeSpan UnansweredTimeout, TimeSpan ReconnectGrace);

/// <summary>TLS around every tunnel connection (<c>tunnel.tls</c>); <see cref="TunnelSettings.Tls"/> null = plain TCP.</summary>
/// <param name="ServerName">Dialing (<c>tls://HOST:PORT</c>): the name sent (SNI) and checked in the far side's certificate.</param>
/// <param name="Trust">Dialing: the certificates trusted instead of the system's store (<c>tls.ca-file</c>); null = the system's.</param>
/// <param name="CertFile">Listening: the certificate chain served (PEM), read again when it changes.</param>
/// <param name="KeyFile">Listening: its private key (PEM).</param>
public sealed record TlsSettings(string? ServerName, X509Certificate2Collection? Trust, string? CertFile, string? KeyFile)
{
    public bool Dials => ServerName is not null;
}

/// <summary>An HTTP proxy every tunnel connection is dialed through with <c>CONNECT</c> (<c>tunnel.http-proxy</c>).</summary>
/// <param name="Proxy">Where the proxy listens.</param>
/// <param name="User">With <paramref name="Password"/>: the proxy's basic authentication; null = none.</param>
public sealed record HttpProxySettings(EndPoint Proxy, string? User, string? Password)
{
    /// <summary>The proxy as it may be logged: without its password.</summary>
    public override string ToString() => User is null ? $"http://{Display(Proxy)}" : $"http://{User}@{Display(Proxy)}";

    private static string Display(EndPoint endpoint) => endpoint is DnsEndPoint dns ? $"{dns.Host}:{dns.Port}" : endpoint.ToString() ?? "";
}

/// <summary>Tunnel connections as WebSocket upgrades (<c>tcp.connect = ws://…/PATH</c>, <c>wss://</c>; <c>tunnel.websocket.path</c>), one datagram per binary message.</summary>
/// <param name="Path">The path of the upgrade request: dialed, or the one accepted.</param>
/// <param name="Authority">Dialing: the <c>Host</c> of the request (<c>HOST:PORT</c>); null when listening.</param>
/// <param name="MaxRequestBytes">Listening: the longest request head read before it is answered 400; dialing: the longest answer head.</param>
/// <param name="PingInterval">How often an idle WebSocket is pinged, so proxies in between keep it; zero = never.</param>
/// <param name="ProofInUpgrade">With a key: the dialer's proof rides in the upgrade request and the listener's answer in
/// its response, so the listener says nothing a web server would not before the key is proven.</param>
public sealed record WebSocketSettings(string Path, string? Authority, int MaxRequestBytes, TimeSpan PingInterval, bool ProofInUpgrade);

/// <summary>The website a listening side hands every connection that is not a proven tunnel connection (<c>tunnel.http-fallback</c>).</summary>
/// <param name="Address">Where the website listens (plain HTTP: TLS, if any, ends at this side).</param>
/// <param name="MaxConnections">Connections handed to it at once; more are closed.</param>
/// <param name="IdleTimeout">A handed connection with no byte either way for this long is closed.</param>
public sealed record HttpFallbackSettings(EndPoint Address, int MaxConnections, TimeSpan IdleTimeout);

/// <summary>One side of the tunnel, read once from the <c>tunnel</c> block of the configuration.</summary>
/// <param name="QueueMemory">Bytes of datagrams all queues of the side may hold together (<c>tunnel.queue-memory</c>).</param>
/// <param name="MetricsListen">Where to serve <c>/metrics</c> and <c>/healthz</c>; null = not served.</param>
/// <param name="Executor">What runs the actors (<c>tunnel.executor</c>).</param>
public sealed record TunnelSettings(
    UdpTunnelSettings Udp,
    TcpTunnelSettings Tcp,
    SessionSettings Session,
    BackoffSettings Rebind,
    TimeSpan StartupTimeout,
    long QueueMemory,
    AuthSettings Auth,
    IPEndPoint? MetricsListen,
    ExecutorKind Executor,
    TlsSettings? Tls = null,
    HttpProxySettings? HttpProxy = null,
    WebSocketSettings? WebSocket = null,
    HttpFallbackSettings? HttpFallback = null)
{
    /// <summary>What the tunnel connections run on, as the metrics' <c>carrier</c> tag: <c>tcp</c>, <c>tls</c>, <c>ws</c> or <c>wss</c>.</summary>
    public string Carrier => (Tls, WebSocket) switch
    {
        (null, null) => "tcp",
        (_, null) => "tls",
        (null, _) => "ws",
        _ => "wss",
    };

    /// <summary>The roles, as the metrics' <c>orientation</c> tag: <c>udp-listen/tcp-connect</c>.</summary>
    public string Orientation => $"udp-{Udp.Role.ToString().ToLowerInvariant()}/tcp-{Tcp.Role.ToString().ToLowerInvariant()}";

    /// <summary>Where this side listens (UDP, TCP, metrics): what it binds, and what may need a privilege to bind.</summary>
    public IEnumerable<(string Key, IPEndPoint Endpoint)> ListenEndpoints()
    {
        if (Udp.Role == UdpRole.Listen) yield return ("tunnel.udp.listen", Udp.Endpoint);
        if (Tcp.Role == TcpRole.Listen) yield return ("tunnel.tcp.listen", Tcp.Endpoint);
        if (MetricsListen is { } metrics) yield return ("tunnel.metrics.listen", metrics);
    }

    /// <summary>The inbox of the UDP-listen endpoint: datagrams of every peer on their way to their connections.</summary>
    public const string IngressMailbox = "tunnel.mailbox.ingress";

    /// <summary>The inbox of a tunnel connection's stage: datagrams waiting to be framed onto it.</summary>
    public const string ConnectionMailbox = "tunnel.mailbox.connection";

    /// <summary>The largest datagram UDP carries towards the given address family.</summary>
    public static int MaxUdpPayload(System.Net.Sockets.AddressFamily family) =>
        family == System.Net.Sockets.AddressFamily.InterNetworkV6 ? 65527 : 65507;
}
