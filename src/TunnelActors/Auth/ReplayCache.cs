namespace TunnelActors.Auth;

/// <summary>
/// The dialers' nonces a listening side has accepted and whose hellos are still within the clock window: a hello
/// recorded on the wire and sent again is refused, so a prober cannot replay a genuine one to learn that the port is
/// a tunnel. An entry is needed only while its hello's time could still be accepted, so each is forgotten when its
/// window closes. At most <c>capacity</c> are held (<c>tunnel.auth.replay-memory</c>); while it is full, new hellos
/// are refused rather than remembered less. Shared by every connection of a side: thread-safe.
/// </summary>
public sealed class ReplayCache(int capacity)
{
    private readonly Dictionary<UInt128, long> _seen = new();
    private readonly Queue<(UInt128 Nonce, long Until)> _expiry = new();
    private readonly Lock _lock = new();

    public enum Verdict { Fresh, Replayed, Full }

    public int Count
    {
        get { lock (_lock) return _seen.Count; }
    }

    /// <param name="nonce">The dialer's nonce (its first 16 bytes name it: 128 random bits).</param>
    /// <param name="until">Unix seconds after which its hello is too old to be accepted anyway.</param>
    /// <param name="now">Unix seconds now.</param>
    public Verdict Record(ReadOnlySpan<byte> nonce, long until, long now)
    {
        var key = System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(nonce);
        lock (_lock)
        {
            while (_expiry.TryPeek(out var oldest) && oldest.Until < now)
            {
                _expiry.Dequeue();
                if (_seen.TryGetValue(oldest.Nonce, out var kept) && kept == oldest.Until) _seen.Remove(oldest.Nonce);
            }
            if (_seen.ContainsKey(key)) return Verdict.Replayed;
            if (_seen.Count >= capacity) return Verdict.Full;
            _seen[key] = until;
            _expiry.Enqueue((key, until));
            return Verdict.Fresh;
        }
    }
}
