using System.Buffers.Binary;
using Akka.Actor;
using Akka.IO;
using TunnelActors.Auth;
using TunnelActors.Configuration;
using TunnelActors.Framing;

namespace TunnelActors.Links;

/// <summary>
/// How a tunnel connection is let in before it carries anything. With a key, both ends prove it
/// (<see cref="Handshake"/>): the dialer's hello, with its proof, goes out at once; the listener writes nothing until
/// that proof is checked, then its answer; nothing else is written or decoded until both proofs are in. On the
/// forward side the far side then starts a flow: a whole first frame without a key, the flow's name with one. A
/// dialer whose connection ends before the answer was turned away by the far side: another key, a clock too far
/// off, or a hello it had already seen.
/// </summary>
internal sealed class LinkAdmission(IActorRef connection, IActorRef self, AuthSettings auth, LinkRole role, ReplayCache replays)
{
    /// <summary>What the bytes received so far decided.</summary>
    public abstract record Step;

    /// <summary>Keep reading.</summary>
    public sealed record More : Step;

    /// <summary>Both proofs are in (or there is no key); <paramref name="Surplus"/> bytes that followed them start the stream.</summary>
    public sealed record Admitted(FlowId? Flow, byte[] Surplus) : Step;

    /// <summary>The far side failed the handshake.</summary>
    public sealed record Failed(string Reason) : Step;

    private static readonly More KeepReading = new();

    private readonly Handshake? _handshake = auth.Key is null ? null : new Handshake(auth.Key, role.End, auth.MaxClockSkew, replays);
    private bool _proofSent;

    public bool Keyed => _handshake is not null;

    /// <summary>A dialer that proved itself and was shut out: the far side holds another key, its clock is too far off, or it had seen the hello.</summary>
    public bool KeyRefused => _proofSent && role.End == HandshakeRole.Dialer;

    /// <summary>The dialer writes its hello (with a key); without one the connection is admitted at once.</summary>
    public Step Start()
    {
        if (_handshake is null) return new Admitted(null, []);
        if (_handshake.Greeting.Length == 0) return KeepReading;
        connection.Tell(Tcp.Write.Create(ByteString.FromBytes(_handshake.Greeting)), self);
        _proofSent = true;
        return KeepReading;
    }

    public Step Receive(ReadOnlySpan<byte> data)
    {
        var handshake = _handshake!;
        var result = handshake.Receive(data);
        if (result.ProofToSend is { } proof)
        {
            connection.Tell(Tcp.Write.Create(ByteString.FromBytes(proof)), self);
            _proofSent = true;
        }
        return result.State switch
        {
            Handshake.State.Done => new Admitted(handshake.FlowId, data[^result.Surplus..].ToArray()),
            Handshake.State.Failed => new Failed(result.Failure!),
            _ => KeepReading,
        };
    }

    /// <summary>
    /// Forward side: whether what the decoder holds starts a flow. Without a key a whole frame does; with one, the
    /// flow's name comes first, as a frame of its own, and is taken from the held bytes.
    /// </summary>
    /// <param name="malformed">Set when the first frame of a keyed connection is not a flow's name.</param>
    public bool StartsFlow(FrameDecoder held, out FlowId? flow, out string? malformed)
    {
        flow = null;
        malformed = null;
        if (!Keyed) return held.HoldsWholeFrame;
        Span<byte> name = stackalloc byte[NamedFlowLength];
        if (!held.TryTakeHeld(name)) return false;
        if (BinaryPrimitives.ReadUInt16BigEndian(name) != FlowId.Length)
        {
            malformed = $"its first frame is {BinaryPrimitives.ReadUInt16BigEndian(name)} bytes, not a flow's {FlowId.Length}-byte name";
            return false;
        }
        flow = FlowId.Read(name[2..]);
        return true;
    }

    /// <summary>The frame that names a flow: its length, then the name.</summary>
    public static ByteString NameFrame(FlowId flow)
    {
        var frame = new byte[NamedFlowLength];
        BinaryPrimitives.WriteUInt16BigEndian(frame, FlowId.Length);
        flow.ToBytes().CopyTo(frame, 2);
        return ByteString.FromBytes(frame);
    }

    private const int NamedFlowLength = 2 + FlowId.Length;
}
