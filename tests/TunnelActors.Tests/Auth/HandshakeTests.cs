using System.Security.Cryptography;
using Xunit;
using TunnelActors.Auth;

namespace TunnelActors.Tests.Auth;

/// <summary>The handshake as a pure exchange of bytes between two ends, in every way the bytes can be cut.</summary>
public sealed class HandshakeTests
{
    private static readonly byte[] KeyBytes = RandomNumberGenerator.GetBytes(PreSharedKey.Length);
    private static readonly PreSharedKey Key = PreSharedKey.FromBytes(KeyBytes);

    /// <summary>Runs both ends against each other, each side's output cut into pieces of <paramref name="piece"/> bytes.</summary>
    private static (Handshake.Result Dialer, Handshake.Result Listener) Exchange(Handshake dialer, Handshake listener, int piece, byte[]? trailing = null)
    {
        var toListener = new List<byte>(dialer.Greeting);
        var toDialer = new List<byte>(listener.Greeting);
        Handshake.Result dialerResult = default, listenerResult = default;
        var sentDialerProof = false;
        var sentListenerProof = false;
        for (var round = 0; round < 1000 && (dialerResult.State == Handshake.State.InProgress || listenerResult.State == Handshake.State.InProgress); round++)
        {
            if (dialerResult.State == Handshake.State.InProgress && toDialer.Count > 0)
            {
                var take = Math.Min(piece, toDialer.Count);
                dialerResult = dialer.Receive(toDialer.Take(take).ToArray());
                toDialer.RemoveRange(0, take);
                if (dialerResult.ProofToSend is { } proof)
                {
                    Assert.False(sentDialerProof);
                    sentDialerProof = true;
                    toListener.AddRange(proof);
                    if (trailing is not null) toListener.AddRange(trailing);
                }
            }
            if (listenerResult.State == Handshake.State.InProgress && toListener.Count > 0)
            {
                var take = Math.Min(piece, toListener.Count);
                listenerResult = listener.Receive(toListener.Take(take).ToArray());
                toListener.RemoveRange(0, take);
                if (listenerResult.State == Handshake.State.Done) listenerResult = listenerResult with { Surplus = listenerResult.Surplus + toListener.Count };
                if (listenerResult.ProofToSend is { } proof)
                {
                    Assert.False(sentListenerProof);
                    sentListenerProof = true;
                    toDialer.AddRange(proof);
                }
            }
        }
        return (dialerResult, listenerResult);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(36)]
    [InlineData(1000)]
    public void Two_ends_with_the_same_key_prove_it_to_each_other_however_the_bytes_are_cut(int piece)
    {
        var (dialer, listener) = Exchange(new Handshake(Key, HandshakeRole.Dialer), new Handshake(Key, HandshakeRole.Listener), piece);
        Assert.Equal(Handshake.State.Done, dialer.State);
        Assert.Equal(Handshake.State.Done, listener.State);
    }

    [Fact]
    public void Frames_right_behind_the_proof_are_left_for_the_frame_stream()
    {
        var (_, listener) = Exchange(new Handshake(Key, HandshakeRole.Dialer), new Handshake(Key, HandshakeRole.Listener),
            piece: 1000, trailing: [0, 3, 1, 2, 3]);
        Assert.Equal(Handshake.State.Done, listener.State);
        Assert.Equal(5, listener.Surplus);
    }

    [Fact]
    public void A_different_key_fails_and_neither_end_completes()
    {
        var other = PreSharedKey.FromBytes(RandomNumberGenerator.GetBytes(PreSharedKey.Length));
        foreach (var piece in new[] { 1, 1000 })
        {
            var (dialer, listener) = Exchange(new Handshake(Key, HandshakeRole.Dialer), new Handshake(other, HandshakeRole.Listener), piece);
            Assert.NotEqual(Handshake.State.Done, dialer.State);
            Assert.Equal(Handshake.State.Failed, listener.State);
            Assert.Contains("proof", listener.Failure);
        }
    }

    [Fact]
    public void A_listener_proves_nothing_until_the_dialer_has_proven_the_key()
    {
        // A stranger with a well-formed greeting and a guessed proof: nothing to test further guesses against.
        var stranger = new Handshake(PreSharedKey.FromBytes(RandomNumberGenerator.GetBytes(PreSharedKey.Length)), HandshakeRole.Dialer);
        var listener = new Handshake(Key, HandshakeRole.Listener);
        var afterGreeting = listener.Receive(stranger.Greeting);
        Assert.Equal(Handshake.State.InProgress, afterGreeting.State);
        Assert.Null(afterGreeting.ProofToSend);
        var afterProof = listener.Receive(RandomNumberGenerator.GetBytes(Handshake.ProofLength));
        Assert.Equal(Handshake.State.Failed, afterProof.State);
        Assert.Null(afterProof.ProofToSend);

        // The genuine dialer gets the listener's proof once its own has been checked.
        var dialer = new Handshake(Key, HandshakeRole.Dialer);
        listener = new Handshake(Key, HandshakeRole.Listener);
        Assert.Null(listener.Receive(dialer.Greeting).ProofToSend);
        var dialerProof = dialer.Receive(listener.Greeting).ProofToSend!;
        var done = listener.Receive(dialerProof);
        Assert.Equal(Handshake.State.Done, done.State);
        Assert.Equal(Handshake.State.Done, dialer.Receive(done.ProofToSend!).State);
    }

    [Fact]
    public void A_recorded_handshake_replayed_to_a_new_connection_fails()
    {
        // Record what a genuine dialer sent to a listener.
        var genuine = new Handshake(Key, HandshakeRole.Dialer);
        var first = new Handshake(Key, HandshakeRole.Listener);
        var proof = genuine.Receive(first.Greeting).ProofToSend!;
        var recorded = genuine.Greeting.Concat(proof).ToArray();

        // An attacker without the key replays it to a listener, which has a fresh nonce.
        var fresh = new Handshake(Key, HandshakeRole.Listener);
        var result = fresh.Receive(recorded);
        Assert.Equal(Handshake.State.Failed, result.State);
    }

    [Fact]
    public void A_side_fed_its_own_greeting_back_refuses_it()
    {
        var dialer = new Handshake(Key, HandshakeRole.Dialer);
        var result = dialer.Receive(dialer.Greeting);
        Assert.Equal(Handshake.State.Failed, result.State);
        Assert.Null(result.ProofToSend);
    }

    [Fact]
    public void Plain_frames_from_a_peer_without_a_key_fail_at_once()
    {
        var listener = new Handshake(Key, HandshakeRole.Listener);
        var result = listener.Receive([0, 4, 1, 2]);
        Assert.Equal(Handshake.State.Failed, result.State);
        Assert.Contains("did not start", result.Failure);
    }

    [Fact]
    public void Another_version_is_refused_by_name()
    {
        var listener = new Handshake(Key, HandshakeRole.Listener);
        var greeting = new Handshake(Key, HandshakeRole.Dialer).Greeting;
        greeting[2] = 9;
        var result = listener.Receive(greeting);
        Assert.Equal(Handshake.State.Failed, result.State);
        Assert.Contains("version 9", result.Failure);
    }

    [Fact]
    public void The_greeting_carries_no_part_of_the_key()
    {
        var greeting = new Handshake(Key, HandshakeRole.Dialer).Greeting;
        for (var i = 0; i + 4 <= KeyBytes.Length; i++)
            Assert.False(greeting.AsSpan().IndexOf(KeyBytes.AsSpan(i, 4)) >= 0);
    }
}
