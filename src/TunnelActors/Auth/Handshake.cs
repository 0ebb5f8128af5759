using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace TunnelActors.Auth;

/// <summary>Which end of the TCP connection a side is; part of what each side proves, so no proof can be reflected.</summary>
public enum HandshakeRole : byte
{
    Dialer = (byte)'D',
    Listener = (byte)'L',
}

/// <summary>
/// The mutual proof of the pre-shared key that opens every tunnel connection when both sides hold one. The dialer
/// proves first, in its first bytes: magic, version, role, its clock (Unix seconds), 32 fresh random bytes and
/// HMAC-SHA256(key, label, version, its role, its time, its nonce). The listener sends nothing at all until that
/// proof is checked, the time is within <c>tunnel.auth.max-clock-skew</c> of its own, and the nonce has not been
/// seen in that window (<see cref="ReplayCache"/>): whoever connects without the key, or replays a recorded hello,
/// learns nothing, not even that the port is a tunnel. Then the listener answers: magic, version, role, its own 32
/// random bytes and HMAC-SHA256(key, label, version, its role, the dialer's nonce, its nonce), which the dialer
/// checks. Nothing about the key crosses the wire. After the two proofs the side that listens for UDP names the flow
/// the connection carries (<see cref="FlowId"/>, 16 bytes, sent as a frame of its own), then both ways carry RFC 4571 frames. A pure state
/// machine over bytes, testable without sockets.
/// </summary>
public sealed class Handshake
{
    /// <summary>4: the flow's name is an RFC 4571 frame, so everything after the proofs is frames (3: a bare name; 2: both
    /// greeted at once, the listener first; 1: no flow names).</summary>
    public const byte Version = 4;
    public const int NonceLength = 32;
    public const int ProofLength = 32;
    public const int HelloLength = 4 + 8 + NonceLength + ProofLength;
    public const int AnswerLength = 4 + NonceLength + ProofLength;

    private static readonly byte[] Label = Encoding.ASCII.GetBytes("tunnelactors handshake");

    private readonly PreSharedKey _key;
    private readonly HandshakeRole _role;
    private readonly TimeProvider _clock;
    private readonly long _maxSkew;
    private readonly ReplayCache? _replays;
    private readonly byte[] _nonce = RandomNumberGenerator.GetBytes(NonceLength);
    private readonly byte[] _received;
    private int _receivedLength;
    private byte[]? _peerNonce;

    /// <param name="maxClockSkew">Listener: how far a dialer's clock may be from this side's.</param>
    /// <param name="replays">Listener: the side's accepted nonces.</param>
    public Handshake(PreSharedKey key, HandshakeRole role, TimeSpan maxClockSkew, ReplayCache? replays = null, TimeProvider? clock = null)
    {
        _key = key;
        _role = role;
        _clock = clock ?? TimeProvider.System;
        _maxSkew = (long)maxClockSkew.TotalSeconds;
        _replays = replays;
        _received = new byte[role == HandshakeRole.Dialer ? AnswerLength : HelloLength];
        if (role == HandshakeRole.Listener)
        {
            Greeting = [];
            return;
        }
        var time = Now;
        Greeting = new byte[HelloLength];
        Header(Greeting, role);
        BinaryPrimitives.WriteInt64BigEndian(Greeting.AsSpan(4), time);
        _nonce.CopyTo(Greeting, 12);
        HelloProof(time, _nonce).CopyTo(Greeting, 12 + NonceLength);
    }

    /// <summary>What this side sends first: the dialer's hello, with its proof; nothing from the listener.</summary>
    public byte[] Greeting { get; }

    /// <summary>Where the handshake stands after the bytes received so far.</summary>
    public enum State { InProgress, Done, Failed }

    /// <param name="ProofToSend">The listener's answer, set once the dialer's hello has been checked. Send it.</param>
    /// <param name="Surplus">With <see cref="State.Done"/>: how many of the last bytes received follow the
    /// peer's proof, the start of the frame stream.</param>
    public readonly record struct Result(State State, byte[]? ProofToSend = null, int Surplus = 0, string? Failure = null);

    private long Now => _clock.GetUtcNow().ToUnixTimeSeconds();

    /// <summary>Takes received bytes. Bytes after the peer's proof are not consumed (<see cref="Result.Surplus"/>).</summary>
    public Result Receive(ReadOnlySpan<byte> data)
    {
        var take = Math.Min(_received.Length - _receivedLength, data.Length);
        data[..take].CopyTo(_received.AsSpan(_receivedLength));
        _receivedLength += take;
        if (_receivedLength >= 2 && (_received[0] != 'T' || _received[1] != 'A'))
            return Fail("the peer did not start a TunnelActors handshake (it has no key, or is another program)");
        if (_receivedLength >= 3 && _received[2] != Version)
            return Fail(_received[2] < Version
                ? $"the peer speaks handshake version {_received[2]}, this side {Version}: it is an older TunnelActors; upgrade it"
                : $"the peer speaks handshake version {_received[2]}, this side {Version}: this side is the older TunnelActors; upgrade it");
        if (_receivedLength >= 4 && _received[3] != (byte)Opposite(_role))
            return Fail("the peer is the same end of the connection as this side");
        if (_receivedLength < _received.Length) return new Result(State.InProgress);
        var surplus = data.Length - take;
        return _role == HandshakeRole.Listener ? CheckHello(surplus) : CheckAnswer(surplus);
    }

    private Result CheckHello(int surplus)
    {
        var time = BinaryPrimitives.ReadInt64BigEndian(_received.AsSpan(4));
        var nonce = _received.AsSpan(12, NonceLength);
        if (!CryptographicOperations.FixedTimeEquals(HelloProof(time, nonce), _received.AsSpan(12 + NonceLength, ProofLength)))
            return Fail("the peer's proof does not match this side's key");
        var now = Now;
        if (Math.Abs(now - time) > _maxSkew)
            return Fail($"the peer's clock is {Math.Abs(now - time)} s {(now > time ? "behind" : "ahead of")} this side's; " +
                        $"at most tunnel.auth.max-clock-skew ({_maxSkew} s) is accepted");
        switch (_replays?.Record(nonce, time + _maxSkew, now))
        {
            case ReplayCache.Verdict.Replayed:
                return Fail("the peer replayed a hello this side had already accepted (recorded on the wire and sent again)");
            case ReplayCache.Verdict.Full:
                return Fail("this side already holds tunnel.auth.replay-memory handshakes from the last tunnel.auth.max-clock-skew; try again later");
        }
        _peerNonce = nonce.ToArray();
        var answer = new byte[AnswerLength];
        Header(answer, _role);
        _nonce.CopyTo(answer, 4);
        Mac((byte)_role).CopyTo(answer, 4 + NonceLength);
        return new Result(State.Done, answer, surplus);
    }

    private Result CheckAnswer(int surplus)
    {
        _peerNonce = _received[4..(4 + NonceLength)];
        if (!CryptographicOperations.FixedTimeEquals(Mac((byte)Opposite(_role)), _received.AsSpan(4 + NonceLength, ProofLength)))
            return Fail("the peer's proof does not match this side's key");
        return new Result(State.Done, Surplus: surplus);
    }

    private static Result Fail(string reason) => new(State.Failed, Failure: reason);

    /// <summary>
    /// The name a flow that starts on this connection keeps on every connection after it: both ends can work it
    /// out, nobody without the key can, and no other handshake gives it.
    /// </summary>
    public FlowId FlowId => _peerNonce is null ? throw new InvalidOperationException("the handshake is not done") : FlowId.Read(Mac(FlowPurpose));

    private const byte FlowPurpose = (byte)'F';

    private static void Header(byte[] message, HandshakeRole role)
    {
        message[0] = (byte)'T';
        message[1] = (byte)'A';
        message[2] = Version;
        message[3] = (byte)role;
    }

    private byte[] HelloProof(long time, ReadOnlySpan<byte> dialerNonce)
    {
        var message = new byte[Label.Length + 2 + 8 + NonceLength];
        Label.CopyTo(message, 0);
        message[Label.Length] = Version;
        message[Label.Length + 1] = (byte)HandshakeRole.Dialer;
        BinaryPrimitives.WriteInt64BigEndian(message.AsSpan(Label.Length + 2), time);
        dialerNonce.CopyTo(message.AsSpan(Label.Length + 10));
        return _key.Authenticate(message);
    }

    private byte[] Mac(byte purpose)
    {
        var (dialerNonce, listenerNonce) = _role == HandshakeRole.Dialer ? (_nonce, _peerNonce!) : (_peerNonce!, _nonce);
        var message = new byte[Label.Length + 2 + 2 * NonceLength];
        Label.CopyTo(message, 0);
        message[Label.Length] = Version;
        message[Label.Length + 1] = purpose;
        dialerNonce.CopyTo(message, Label.Length + 2);
        listenerNonce.CopyTo(message, Label.Length + 2 + NonceLength);
        return _key.Authenticate(message);
    }

    private static HandshakeRole Opposite(HandshakeRole role) =>
        role == HandshakeRole.Dialer ? HandshakeRole.Listener : HandshakeRole.Dialer;
}
