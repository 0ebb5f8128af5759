using System.Buffers;

namespace TunnelActors.Framing;

/// <summary>
/// A wire format that carries whole datagrams over a byte stream. Implementations are pure and
/// allocation-free so that they can be tested without actors and swapped for another protocol.
/// </summary>
public interface IFrameCodec
{
    /// <summary>The largest payload one frame can carry.</summary>
    int MaxPayloadLength { get; }

    /// <summary>How many bytes <see cref="Write"/> emits for a payload of this length.</summary>
    int EncodedLength(int payloadLength);

    /// <summary>
    /// The length of the whole frame (header and payload) that starts at the front of <paramref name="buffer"/>,
    /// or -1 while its header is incomplete. Malformed input throws <see cref="FrameFormatException"/>.
    /// </summary>
    int FrameLength(ReadOnlySpan<byte> buffer);

    /// <summary>
    /// Reads one whole frame from the front of <paramref name="buffer"/>. On success the payload is returned
    /// and <paramref name="buffer"/> is advanced past the frame; when the frame is incomplete the buffer is
    /// left as it was and <c>false</c> is returned. Malformed input throws <see cref="FrameFormatException"/>.
    /// </summary>
    bool TryRead(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> payload);

    /// <inheritdoc cref="TryRead(ref ReadOnlySequence{byte}, out ReadOnlySequence{byte})"/>
    bool TryRead(ref ReadOnlySpan<byte> buffer, out ReadOnlySpan<byte> payload);

    /// <summary>Writes one frame carrying <paramref name="payload"/>.</summary>
    void Write(ReadOnlySpan<byte> payload, IBufferWriter<byte> output);
}

/// <summary>The byte stream cannot be a sequence of frames of this codec.</summary>
public sealed class FrameFormatException(string message) : Exception(message);
