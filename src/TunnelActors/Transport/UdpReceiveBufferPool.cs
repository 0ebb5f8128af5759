using Akka.Actor;
using Akka.Configuration;
using Akka.IO.Buffers;
using TunnelActors.Flow;
using TunnelActors.Observability;

namespace TunnelActors.Transport;

/// <summary>
/// Receive buffers for Akka.IO UDP (<c>akka.io.udp.buffer-pool</c>). Every bound socket keeps a receive
/// outstanding, each with a buffer as large as the largest datagram (64 KiB), and the forward side binds a
/// socket per flow: with Akka's pool, 1,000 flows held 64 MB of zeroed buffers. These buffers are allocated
/// without zeroing on the pinned heap, which is never compacted, so only the pages a datagram actually lands on
/// become resident; free buffers are reused last-in first-out, whose pages already are. At most
/// <c>keep-free</c> are kept free: after a peak of flows the rest go back to the garbage collector, and with them
/// their memory.
/// </summary>
public sealed class UdpReceiveBufferPool : IBufferPool
{
    private readonly int _bufferSize;
    private readonly int _keepFree;
    private readonly Stack<byte[]> _free = new();
    private readonly BufferCounters _counters;
    private long _allocated;

    public UdpReceiveBufferPool(ExtendedActorSystem system, Config config)
    {
        _bufferSize = config.GetInt("buffer-size", 65536);
        _keepFree = config.GetInt("keep-free", 64);
        if (_bufferSize <= 0) throw new ArgumentException("buffer-size must be positive", nameof(config));
        if (_keepFree < 0) throw new ArgumentException("keep-free must not be negative", nameof(config));
        _counters = SideResources.For(system).ReceiveBuffers;
    }

    public ArraySegment<byte> Rent()
    {
        lock (_free)
        {
            if (_free.TryPop(out var reused))
            {
                _counters.Rented(_bufferSize, reused: true);
                return new ArraySegment<byte>(reused);
            }
        }
        Interlocked.Add(ref _allocated, _bufferSize);
        _counters.Rented(_bufferSize, reused: false);
        return new ArraySegment<byte>(GC.AllocateUninitializedArray<byte>(_bufferSize, pinned: true));
    }

    public IEnumerable<ArraySegment<byte>> Rent(int minimumSize) =>
        minimumSize <= _bufferSize ? [Rent()] : [new ArraySegment<byte>(GC.AllocateUninitializedArray<byte>(minimumSize, pinned: true))];

    public void Release(ArraySegment<byte> buffer)
    {
        if (buffer.Array is not { } array || array.Length != _bufferSize) return;
        bool kept;
        lock (_free)
        {
            kept = _free.Count < _keepFree;
            if (kept) _free.Push(array);
        }
        if (!kept) Interlocked.Add(ref _allocated, -_bufferSize);
        _counters.Returned(_bufferSize, kept);
    }

    public void Release(IEnumerable<ArraySegment<byte>> buffers)
    {
        foreach (var buffer in buffers) Release(buffer);
    }

    public BufferPoolInfo Diagnostics()
    {
        int free;
        lock (_free) free = _free.Count * _bufferSize;
        var total = Interlocked.Read(ref _allocated);
        return new BufferPoolInfo(typeof(UdpReceiveBufferPool), total, free, total - free);
    }
}
