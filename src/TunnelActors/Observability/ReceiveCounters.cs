using System.Collections.Concurrent;

namespace TunnelActors.Observability;

/// <summary>
/// Datagrams each of the side's UDP receive threads took (<c>tunnel.udp.io = batched</c>): how its traffic is spread
/// over them, and so over cores. Each thread writes its own count only.
/// </summary>
public sealed class ReceiveCounters
{
    private readonly ConcurrentDictionary<string, Count> _threads = new();

    /// <summary>The count of the thread named <paramref name="thread"/>; a thread started again goes on from where it was.</summary>
    public Count For(string thread) => _threads.GetOrAdd(thread, _ => new Count());

    public IEnumerable<(string Thread, long Datagrams)> Threads => _threads.Select(t => (t.Key, t.Value.Value));

    public sealed class Count
    {
        private long _value;

        public long Value => Volatile.Read(ref _value);

        /// <summary>From the one thread this count is for.</summary>
        public void Add(int datagrams) => Volatile.Write(ref _value, _value + datagrams);
    }
}
