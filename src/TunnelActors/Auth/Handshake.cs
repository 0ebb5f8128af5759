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
/// The mutual challenge-response that opens every tunnel connection when both sides hold a pre-shared key.
/// Both sides send a greeting at once: magic, version, role and 32 fresh random bytes. Having the listener's
/// greeting, the dialer sends its proof, HMAC-SHA256(key, label, version, its own role, the dialer's nonce,
/// the listener's nonce); the listener checks it in constant time and only then sends its own, which the
/// dialer checks. Whoever connects to a listener learns nothing but its greeting until it has proven the
/// key, so it cannot even test guesses offline. Nothing about the key crosses the wire, and a recorded
/// handshake proves nothing next time: the other side's nonce is new. After the two proofs the side that
/// listens for UDP names the flow the connection carries (<see cref="FlowId"/>, 16 bytes), then both ways carry
/// RFC 4571 frames. A pure state machine over bytes, testable without sockets.
/// </summary>
public sealed class Handshake
{
    /// <summary>2: the flow's name follows the proofs (version 1 had frames at once).</summary>
    public const byte Version = 2;
    public const int NonceLength = 32;
    public const int ProofLength = 32;
    public const int GreetingLength = 4 + NonceLength;

    private static readonly byte[] Label = Encoding.ASCII.GetBytes("tunnelactors handshake");

    private readonly PreSharedKey _key;
    private readonly HandshakeRole _role;
    private readonly byte[] _nonce = RandomNumberGenerator.GetBytes(NonceLength);
    private readonly byte[] _received = new byte[GreetingLength + ProofLength];
    private int _receivedLength;
    private byte[]? _peerNonce;

    public Handshake(PreSharedKey key, HandshakeRole role)
    {
        _key = key;
        _role = role;
        Greeting = new byte[GreetingLength];
        Greeting[0] = (byte)'T';
        Greeting[1] = (byte)'A';
        Greeting[2] = Version;
        Greeting[3] = (byte)role;
        _nonce.CopyTo(Greeting, 4);
    }

    /// <summary>What this side sends first.</summary>
    public byte[] Greeting { get; }

    /// <summary>Where the handshake stands after the bytes received so far.</summary>
    public enum State { InProgress, Done, Failed }

    /// <param name="ProofToSend">Set once, when this side is to prove itself: the dialer once the listener's greeting
    /// has been checked, the listener once the dialer's proof has been. Send it.</param>
    /// <param name="Surplus">With <see cref="State.Done"/>: how many of the last bytes received follow the
    /// peer's proof, the start of the frame stream.</param>
    public readonly record struct Result(State State, byte[]? ProofToSend = null, int Surplus = 0, string? Failure = null);

    /// <summary>Takes received bytes. Bytes after the peer's proof are not consumed (<see cref="Result.Surplus"/>).</summary>
    public Result Receive(ReadOnlySpan<byte> data)
    {
        byte[]? proof = null;
        if (_peerNonce is null)
        {
            var take = Math.Min(GreetingLength - _receivedLength, data.Length);
            data[..take].CopyTo(_received.AsSpan(_receivedLength));
            _receivedLength += take;
            data = data[take..];
            if (_receivedLength >= 2 && (_received[0] != 'T' || _received[1] != 'A'))
                return Fail("the peer did not start a TunnelActors handshake (it has no key, or is another program)");
            if (_receivedLength < GreetingLength) return new Result(State.InProgress);
            if (_received[2] != Version)
                return Fail($"the peer speaks handshake version {_received[2]}, this side {Version}");
            if (_received[3] != (byte)Opposite(_role))
                return Fail("the peer is the same end of the connection as this side");
            _peerNonce = _received[4..GreetingLength];
            if (_role == HandshakeRole.Dialer) proof = Prove(_role);
        }

        var proofTake = Math.Min(GreetingLength + ProofLength - _receivedLength, data.Length);
        data[..proofTake].CopyTo(_received.AsSpan(_receivedLength));
        _receivedLength += proofTake;
        if (_receivedLength < GreetingLength + ProofLength) return new Result(State.InProgress, proof);
        if (!CryptographicOperations.FixedTimeEquals(Prove(Opposite(_role)), _received.AsSpan(GreetingLength, ProofLength)))
            return Fail("the peer's proof does not match this side's key");
        if (_role == HandshakeRole.Listener) proof = Prove(_role);
        return new Result(State.Done, proof, data.Length - proofTake);
    }

    private static Result Fail(string reason) => new(State.Failed, Failure: reason);

    /// <summary>
    /// The name a flow that starts on this connection keeps on every connection after it: both ends can work it
    /// out, nobody without the key can, and no other handshake gives it.
    /// </summary>
    public FlowId FlowId => _peerNonce is null ? throw new InvalidOperationException("the handshake is not done") : FlowId.Read(Mac(FlowPurpose));

    private const byte FlowPurpose = (byte)'F';

    private byte[] Prove(HandshakeRole sender) => Mac((byte)sender);

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
