using Akka.Actor;
using Akka.Event;
using TunnelActors.Auth;
using TunnelActors.Observability;

namespace TunnelActors.Flow;

/// <summary>
/// What every queue and actor of one side (one actor system) shares: the side-wide byte budget of its
/// datagram queues (<c>tunnel.queue-memory</c>) and its side-wide traffic counters. An extension, so that
/// mailboxes, which Akka creates from configuration, reach the same instance as the actors.
/// </summary>
public sealed class SideResources : IExtension
{
    public SideResources(ActorSystem system)
        : this(QueueMemory(system.Settings.Config), RedactAddresses(system.Settings.Config), ReplayMemory(system.Settings.Config)) { }

    internal SideResources(long queueMemory, bool redactAddresses = false, int replayMemory = DefaultReplayMemory)
    {
        Budget = new ByteBudget(queueMemory);
        Replays = new ReplayCache(replayMemory);
        Addresses = new AddressDisplay(redactAddresses);
        Refusals = new ThrottledLog(LogLevel.WarningLevel, Addresses);
        DialFailures = new ThrottledLog(LogLevel.WarningLevel, Addresses);
        SessionStarts = new ThrottledLog(LogLevel.InfoLevel, Addresses);
        SessionEnds = new ThrottledLog(LogLevel.InfoLevel, Addresses);
    }

    private static bool RedactAddresses(Akka.Configuration.Config config) =>
        config.HasPath("tunnel.log.redact-addresses") && config.GetBoolean("tunnel.log.redact-addresses");

    /// <summary>Until the tunnel supervisor applies its settings (<c>tunnel.queue-memory</c>): bounded even where the configuration says nothing.</summary>
    private const long DefaultQueueMemory = 64 << 20;

    private static long QueueMemory(Akka.Configuration.Config config) =>
        config.HasPath("tunnel.queue-memory") ? config.GetByteSize("tunnel.queue-memory") ?? DefaultQueueMemory : DefaultQueueMemory;

    private const int DefaultReplayMemory = 65536;

    private static int ReplayMemory(Akka.Configuration.Config config) =>
        config.HasPath("tunnel.auth.replay-memory") ? config.GetInt("tunnel.auth.replay-memory") : DefaultReplayMemory;

    public ByteBudget Budget { get; }

    /// <summary>The dialers' hellos this side accepted lately: a replayed one is refused (<c>tunnel.auth.replay-memory</c>).</summary>
    public ReplayCache Replays { get; }

    public TrafficCounters Counters { get; } = new();

    public LinkCounters Links { get; } = new();

    /// <summary>The UDP receive buffers Akka.IO's sockets take from this side's pool.</summary>
    public BufferCounters ReceiveBuffers { get; } = new();

    public SessionCounters Sessions { get; } = new();

    /// <summary>Datagrams each UDP receive thread took.</summary>
    public ReceiveCounters ReceiveThreads { get; } = new();

    /// <summary>Whether every endpoint of the side is bound: what <c>/healthz</c> answers.</summary>
    public EndpointHealth Endpoints { get; } = new();

    /// <summary>How peer addresses appear in logs (<c>tunnel.log.redact-addresses</c>).</summary>
    public AddressDisplay Addresses { get; }

    /// <summary>Refused connections and failed handshakes: at most a warning per source per minute.</summary>
    public ThrottledLog Refusals { get; }

    /// <summary>Failed dials: at most a warning per target per minute.</summary>
    public ThrottledLog DialFailures { get; }

    /// <summary>Sessions started and ended: at most a line of each per source per minute.</summary>
    public ThrottledLog SessionStarts { get; }

    public ThrottledLog SessionEnds { get; }


    /// <summary>Why the side stopped by itself (an endpoint gave up), for the last line the program prints.</summary>
    public string? StopReason { get; set; }

    public static SideResources For(ActorSystem system) => system.WithExtension<SideResources, SideResourcesProvider>();

    private sealed class SideResourcesProvider : ExtensionIdProvider<SideResources>
    {
        public override SideResources CreateExtension(ExtendedActorSystem system) => new(system);
    }
}
