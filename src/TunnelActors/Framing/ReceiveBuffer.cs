using System.Buffers;

namespace TunnelActors.Framing;

/// <summary>
/// TCP bytes received but not yet decoded: normally only the start of a frame that the next segment
/// completes (whole frames are decoded in place, straight from the segment), or one segment held while the
/// datagrams have nowhere to go yet. Bounded by the codec's largest frame plus one segment. The array is
/// rented and given back whenever the buffer drains, so idle connections hold no memory.
/// </summary>
internal sealed class ReceiveBuffer : IDisposable
{
    /// <summary>Enough for the start of most frames, so the first bytes of a split one need not be rented twice.</summary>
    private const int MinimumRent = 2048;

    private byte[] _array = [];
    private int _start;
    private int _end;

    public int Length => _end - _start;

    public ReadOnlySpan<byte> Span => _array.AsSpan(_start, _end - _start);

    public void Append(ReadOnlySpan<byte> data)
    {
        Reserve(data.Length);
        data.CopyTo(_array.AsSpan(_end));
        _end += data.Length;
    }

    /// <summary>
    /// Moves bytes from the front of <paramref name="data"/> until this buffer starts with one whole frame,
    /// taking no more than that frame needs; false when <paramref name="data"/> ran out first.
    /// </summary>
    public bool CompleteFrame(ref ReadOnlySpan<byte> data)
    {
        while (true)
        {
            var frame = LengthPrefixedCodec.Instance.FrameLength(Span);
            var missing = frame < 0 ? 1 : frame - Length;
            if (missing <= 0) return true;
            if (data.IsEmpty) return false;
            var take = Math.Min(missing, data.Length);
            // Room for the whole frame at once, so that a frame split many ways is copied into one array, not regrown.
            if (frame >= 0) Reserve(missing);
            Append(data[..take]);
            data = data[take..];
        }
    }

    public void Consume(int count)
    {
        _start += count;
        if (_start == _end)
            Release();
    }

    private void Reserve(int count)
    {
        if (_array.Length - _end >= count) return;

        var live = _end - _start;
        if (_array.Length - live >= count)
        {
            _array.AsSpan(_start, live).CopyTo(_array);
        }
        else
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(live + count, MinimumRent));
            _array.AsSpan(_start, live).CopyTo(larger);
            Return();
            _array = larger;
        }

        _start = 0;
        _end = live;
    }

    private void Release()
    {
        Return();
        _array = [];
        _start = _end = 0;
    }

    private void Return()
    {
        if (_array.Length > 0) ArrayPool<byte>.Shared.Return(_array);
    }

    public void Dispose() => Release();
}
