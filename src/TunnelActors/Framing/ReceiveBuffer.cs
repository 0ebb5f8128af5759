using System.Buffers;
using Akka.IO;

namespace TunnelActors.Framing;

/// <summary>
/// Accumulates TCP segments until they hold whole frames. Holds at most one partial frame between
/// segments, so its size is bounded by the codec's largest frame plus one segment. The array is rented
/// and given back whenever the buffer drains, so idle connections hold no memory.
/// </summary>
internal sealed class ReceiveBuffer : IDisposable
{
    private byte[] _array = [];
    private int _start;
    private int _end;

    public int Length => _end - _start;

    public ReadOnlySequence<byte> Readable => new(_array, _start, _end - _start);

    public void Append(ByteString data)
    {
        Reserve(data.Count);
        data.ToReadOnlySpan().CopyTo(_array.AsSpan(_end));
        _end += data.Count;
    }

    /// <summary>The array position of a slice of <see cref="Readable"/>.</summary>
    public int OffsetOf(ReadOnlySequence<byte> slice) => slice.Start.GetInteger();

    public byte[] Array => _array;

    public void Consume(long count)
    {
        _start += (int)count;
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
            var larger = ArrayPool<byte>.Shared.Rent(live + count);
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
