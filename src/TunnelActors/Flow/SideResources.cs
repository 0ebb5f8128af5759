using Akka.Actor;
using Akka.Event;
using TunnelActors.Sessions;
using TunnelActors.Transport;

namespace TunnelActors.Flow;

/// <summary>
/// What every queue and actor of one side (one actor system) shares: the side-wide byte budget of its
/// datagram queues (<c>tunnel.queue-memory</c>) and its side-wide traffic counters. An extension, so that
/// mailboxes, which Akka creates from configuration, reach the same instance as the actors.
/// </summary>
public sealed class SideResources : IExtension
{
    public SideResources(ActorSystem system) : this(QueueMemory(system.Settings.Config)) { }

    internal SideResources(long queueMemory) => Budget = new ByteBudget(queueMemory);

    private static long QueueMemory(Akka.Configuration.Config config) =>
        config.HasPath("tunnel.queue-memory") ? config.GetByteSize("tunnel.queue-memory") ?? long.MaxValue : long.MaxValue;

    public ByteBudget Budget { get; }

    public TrafficCounters Counters { get; } = new();

    public LinkCounters Links { get; } = new();

    /// <summary>Refused connections and failed handshakes: at most a warning per source per minute.</summary>
    public ThrottledLog Refusals { get; } = new(LogLevel.WarningLevel);

    /// <summary>Sessions started and ended: at most a line of each per source per minute.</summary>
    public ThrottledLog SessionStarts { get; } = new(LogLevel.InfoLevel);

    public ThrottledLog SessionEnds { get; } = new(LogLevel.InfoLevel);

    public static SideResources For(ActorSystem system) => system.WithExtension<SideResources, SideResourcesProvider>();

    private sealed class SideResourcesProvider : ExtensionIdProvider<SideResources>
    {
        public override SideResources CreateExtension(ExtendedActorSystem system) => new(system);
    }
}
