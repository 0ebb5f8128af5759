using System.Collections.Immutable;

namespace TunnelActors.Observability;

/// <summary>
/// Which endpoints of a side are bound: what <c>/healthz</c> answers. The supervisor writes it as its
/// endpoints bind, lose their sockets and stop; any thread may read it.
/// </summary>
public sealed class EndpointHealth
{
    private ImmutableSortedDictionary<string, bool> _endpoints = ImmutableSortedDictionary<string, bool>.Empty;

    /// <summary>Endpoint name → bound.</summary>
    public IReadOnlyDictionary<string, bool> Endpoints => Volatile.Read(ref _endpoints);

    /// <summary>True while the side has endpoints and every one of them is bound.</summary>
    public bool Healthy => Endpoints is { Count: > 0 } endpoints && endpoints.Values.All(bound => bound);

    public void Set(string endpoint, bool bound) => ImmutableInterlocked.Update(ref _endpoints, e => e.SetItem(endpoint, bound));

    /// <summary>The side is stopping: nothing is served any more.</summary>
    public void Down() => ImmutableInterlocked.Update(ref _endpoints, e => e.ToImmutableSortedDictionary(kv => kv.Key, _ => false));
}
