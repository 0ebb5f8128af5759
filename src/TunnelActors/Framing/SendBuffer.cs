using System.Buffers;
using Akka.IO;
using TunnelActors.Flow;

namespace TunnelActors.Framing;

/// <summary>
/// Encoded frames waiting for the TCP connection, bounded in bytes (<c>tcp.send-queue-limit</c>, and the
/// side's <see cref="ByteBudget"/>) and in age (<c>tcp.max-queue-delay</c>: frames that waited longer are
/// dropped, not sent late). Two buffers alternate: one is being written to the socket and must not change
/// until the write is acknowledged, while the other fills, so frames that arrive during a write coalesce
/// into the next one. A write takes at most <c>tcp.max-write</c> bytes; the rest stays droppable.
/// </summary>
internal sealed class SendBuffer
{
    /// <summary>One write for the socket: the frames, and how many datagrams and payload bytes they carry.</summary>
    public readonly record struct Write(ByteString Data, int Datagrams, int PayloadBytes);

    private static readonly LengthPrefixedCodec Codec = LengthPrefixedCodec.Instance;

    private readonly int _limit;
    private readonly int _maxWrite;
    private readonly long _maxDelayMilliseconds;
    private readonly ByteBudget _budget;

    private FrameBuffer _filling = new();
    private FrameBuffer _inFlight = new();
    private int _inFlightBytes;
    private int _fillingFrames;

    // Where the frames queued in each millisecond end, oldest first: what is stale can be cut off whole.
    private readonly List<(int End, long Tick)> _marks = [];

    /// <param name="limit">Bytes of frames it holds at most (<c>tcp.send-queue-limit</c>).</param>
    /// <param name="maxWrite">Bytes one write takes at most (<c>tcp.max-write</c>).</param>
    /// <param name="maxDelay">Frames older than this are dropped, not sent late (<c>tcp.max-queue-delay</c>); zero = never.</param>
    public SendBuffer(int limit, int maxWrite, TimeSpan maxDelay, ByteBudget budget)
    {
        _limit = limit;
        _maxWrite = maxWrite;
        _maxDelayMilliseconds = (long)maxDelay.TotalMilliseconds;
        _budget = budget;
    }

    public bool HasRoomFor(int encodedLength) => _filling.Count + encodedLength <= _limit;

    /// <summary>Frames one datagram; false when the side's budget has no room for it.</summary>
    public bool TryAppend(ReadOnlySpan<byte> payload, long now)
    {
        var encoded = Codec.EncodedLength(payload.Length);
        if (!_budget.TryTake(encoded)) return false;
        Codec.Write(payload, _filling);
        _fillingFrames++;
        if (_maxDelayMilliseconds > 0)
        {
            if (_marks.Count > 0 && _marks[^1].Tick == now) _marks[^1] = (_filling.Count, now);
            else _marks.Add((_filling.Count, now));
        }
        return true;
    }

    /// <summary>Drops the frames that waited longer than <c>tcp.max-queue-delay</c>; returns how many.</summary>
    public int DropStale(long now)
    {
        if (_maxDelayMilliseconds <= 0) return 0;
        var stale = 0;
        while (stale < _marks.Count && now - _marks[stale].Tick > _maxDelayMilliseconds) stale++;
        if (stale == 0) return 0;

        var end = _marks[stale - 1].End;
        var frames = CountFrames(_filling.Written[..end]);
        _fillingFrames -= frames;
        _filling.RemovePrefix(end);
        _budget.Return(end);
        _marks.RemoveRange(0, stale);
        Rebase(end);
        return frames;
    }

    /// <summary>
    /// The next write: whole frames from the front, at most <c>tcp.max-write</c> bytes (at least one frame).
    /// Null when nothing waits. Stale frames are dropped first (<paramref name="staleFrames"/>).
    /// </summary>
    public Write? TakeForWrite(long now, out int staleFrames)
    {
        staleFrames = DropStale(now);
        if (_filling.Count == 0) return null;

        var (take, frames) = _filling.Count <= _maxWrite
            ? (_filling.Count, _fillingFrames)
            : WholeFramesWithin(_filling.Written, _maxWrite);
        (_filling, _inFlight) = (_inFlight, _filling);
        _fillingFrames -= frames;
        if (take < _inFlight.Count)
        {
            _filling.Write(_inFlight.Written[take..]);
            _inFlight.Truncate(take);
            var written = 0;
            while (written < _marks.Count && _marks[written].End <= take) written++;
            _marks.RemoveRange(0, written);
            Rebase(take);
        }
        else
        {
            _marks.Clear();
        }
        _inFlightBytes = take;
        return new Write(ByteString.FromBytes(_inFlight.Array, 0, take), frames, take - frames * Codec.EncodedLength(0));
    }

    /// <summary>The socket acknowledged the last write (or refused it): its buffer may be reused.</summary>
    public void Written()
    {
        _budget.Return(_inFlightBytes);
        _inFlightBytes = 0;
        _inFlight.Reset();
    }

    /// <summary>
    /// Gives back to the side's budget whatever is still queued (the connection is gone) and returns how many
    /// frames that were never written it drops. A write still in flight keeps its array: the socket may yet
    /// read it, so it is left to the garbage collector, not the pool.
    /// </summary>
    public int Discard()
    {
        var dropped = _fillingFrames;
        _budget.Return(_inFlightBytes + _filling.Count);
        _inFlightBytes = 0;
        _inFlight.Abandon();
        _filling.Reset();
        _fillingFrames = 0;
        _marks.Clear();
        return dropped;
    }

    private void Rebase(int removed)
    {
        for (var i = 0; i < _marks.Count; i++) _marks[i] = (_marks[i].End - removed, _marks[i].Tick);
    }

    private int CountFrames(ReadOnlySpan<byte> frames)
    {
        var count = 0;
        while (Codec.TryRead(ref frames, out _)) count++;
        return count;
    }

    private (int Bytes, int Frames) WholeFramesWithin(ReadOnlySpan<byte> frames, int max)
    {
        var taken = Codec.FrameLength(frames);
        var count = 1;
        while (taken < frames.Length)
        {
            var next = Codec.FrameLength(frames[taken..]);
            if (taken + next > max) break;
            taken += next;
            count++;
        }
        return (taken, count);
    }

    /// <summary>
    /// A growable byte buffer that frames are written into. Its array is rented on first use and given back
    /// whenever it empties, so idle connections hold none and busy ones share the pool's arrays.
    /// </summary>
    private sealed class FrameBuffer : IBufferWriter<byte>
    {
        private const int InitialCapacity = 4096;

        public byte[] Array { get; private set; } = [];

        public int Count { get; private set; }

        public ReadOnlySpan<byte> Written => Array.AsSpan(0, Count);

        public void Advance(int count) => Count += count;

        public Memory<byte> GetMemory(int sizeHint = 0)
        {
            var start = Reserve(sizeHint);
            return Array.AsMemory(start);
        }

        public Span<byte> GetSpan(int sizeHint = 0)
        {
            var start = Reserve(sizeHint);
            return Array.AsSpan(start);
        }

        public void Write(ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(GetSpan(bytes.Length));
            Advance(bytes.Length);
        }

        public void RemovePrefix(int count)
        {
            Array.AsSpan(count, Count - count).CopyTo(Array);
            Count -= count;
            if (Count == 0) Reset();
        }

        public void Truncate(int count) => Count = count;

        public void Reset()
        {
            if (Array.Length > 0) ArrayPool<byte>.Shared.Return(Array);
            Abandon();
        }

        public void Abandon()
        {
            Count = 0;
            Array = [];
        }

        private int Reserve(int sizeHint)
        {
            var needed = Count + Math.Max(sizeHint, 1);
            if (needed > Array.Length)
            {
                var larger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, Math.Max(InitialCapacity, Array.Length * 2)));
                Written.CopyTo(larger);
                if (Array.Length > 0) ArrayPool<byte>.Shared.Return(Array);
                Array = larger;
            }
            return Count;
        }
    }
}
