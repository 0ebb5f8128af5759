namespace TunnelActors.Tools.Bench.Load;

/// <summary>One bit per sequence number sent: set once its first valid reply arrived. Grows by doubling.</summary>
internal sealed class SequenceBitmap
{
    private ulong[] _words = new ulong[1024];

    public void EnsureCapacity(long sequences)
    {
        var words = (sequences + 63) >> 6;
        if (words <= _words.Length) return;
        var grown = new ulong[Math.Max(words, _words.Length * 2L)];
        _words.CopyTo(grown, 0);
        _words = grown;
    }

    public bool Get(long sequence) => (_words[sequence >> 6] & (1UL << (int)(sequence & 63))) != 0;

    public void Set(long sequence) => _words[sequence >> 6] |= 1UL << (int)(sequence & 63);
}
