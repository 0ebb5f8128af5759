using System.Buffers;
using System.Runtime.InteropServices;
using Akka.IO;

namespace TunnelActors.Framing;

/// <summary>
/// Encoded frames waiting for the TCP connection, bounded in bytes. Two buffers alternate: one is being
/// written to the socket (and must not change until the write is acknowledged) while the other fills, so
/// many small frames coalesce into one write without a copy per flush.
/// </summary>
internal sealed class SendBuffer
{
    private const int InitialCapacity = 4096;

    // A buffer grown by a burst is dropped once written rather than kept: thousands of idle connections
    // would otherwise each hold the largest burst they ever saw.
    private const int KeepCapacityUpTo = 64 * 1024;

    private readonly int _limit;
    private ArrayBufferWriter<byte> _filling = new(InitialCapacity);
    private ArrayBufferWriter<byte> _inFlight = new(InitialCapacity);

    public SendBuffer(int limit) => _limit = limit;

    public int PendingBytes => _filling.WrittenCount;

    public bool HasRoomFor(int encodedLength) => _filling.WrittenCount + encodedLength <= _limit;

    public IBufferWriter<byte> Writer => _filling;

    /// <summary>Hands the filled buffer to the socket; it stays untouched until <see cref="Written"/>.</summary>
    public ByteString TakeForWrite()
    {
        (_filling, _inFlight) = (_inFlight, _filling);
        MemoryMarshal.TryGetArray(_inFlight.WrittenMemory, out var segment);
        return ByteString.FromBytes(segment.Array!, segment.Offset, segment.Count);
    }

    /// <summary>The socket acknowledged the last write: its buffer may be reused.</summary>
    public void Written()
    {
        if (_inFlight.Capacity > KeepCapacityUpTo) _inFlight = new ArrayBufferWriter<byte>(InitialCapacity);
        else _inFlight.ResetWrittenCount();
    }
}
