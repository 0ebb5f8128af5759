using TunnelActors.Configuration;
using TunnelActors.Framing;
using TunnelActors.Observability;

namespace TunnelActors.Links;

/// <summary>What every actor of one side shares: its settings, its wire codec and its side-wide counters.</summary>
public sealed record TunnelContext(TunnelSettings Settings, IFrameCodec Codec, TrafficCounters Counters);
