namespace TunnelActors.Framing;

/// <summary>Takes the datagrams a <see cref="FrameDecoder"/> cuts out of the stream, one at a time.</summary>
internal interface IDatagramReceiver
{
    void Receive(ReadOnlySpan<byte> datagram);
}

/// <summary>
/// Cuts a TCP byte stream, arriving in segments split and glued anyhow, into whole datagrams. Frames are
/// decoded in place, straight from the segment; only the start of a frame that the next segment completes
/// is copied, and only as many bytes of that segment as the frame still needs. A segment can also be held
/// whole, undecoded, until its datagrams have somewhere to go.
/// </summary>
internal sealed class FrameDecoder : IDisposable
{
    private static readonly LengthPrefixedCodec Codec = LengthPrefixedCodec.Instance;

    private readonly ReceiveBuffer _held = new();

    /// <summary>Bytes received and not decoded yet.</summary>
    public int HeldBytes => _held.Length;

    /// <summary>Keeps the segment undecoded.</summary>
    public void Hold(ReadOnlySpan<byte> segment) => _held.Append(segment);

    /// <summary>Whether the held bytes start with a whole frame.</summary>
    public bool HoldsWholeFrame => Codec.FrameLength(_held.Span) is var frame and >= 0 && _held.Length >= frame;

    /// <summary>Takes the first <paramref name="into"/>.Length held bytes, which precede the frames; false while fewer are held.</summary>
    public bool TryTakeHeld(Span<byte> into)
    {
        if (_held.Length < into.Length) return false;
        _held.Span[..into.Length].CopyTo(into);
        _held.Consume(into.Length);
        return true;
    }

    /// <summary>Hands every whole frame to <paramref name="receiver"/> and keeps the unfinished rest.</summary>
    public void Decode(ReadOnlySpan<byte> segment, IDatagramReceiver receiver)
    {
        if (_held.Length > 0)
        {
            DecodeHeld(receiver);
            if (!_held.CompleteFrame(ref segment)) return;
            var frame = _held.Span;
            Codec.TryRead(ref frame, out var payload);
            receiver.Receive(payload);
            _held.Consume(_held.Length);
        }
        while (Codec.TryRead(ref segment, out var payload)) receiver.Receive(payload);
        _held.Append(segment);
    }

    /// <summary>Decodes the whole frames among the held bytes.</summary>
    public void DecodeHeld(IDatagramReceiver receiver)
    {
        var held = _held.Span;
        var length = held.Length;
        while (Codec.TryRead(ref held, out var payload)) receiver.Receive(payload);
        _held.Consume(length - held.Length);
    }

    public void Dispose() => _held.Dispose();
}
