using System.Security.Cryptography;
using Xunit;
using TunnelActors.Auth;

namespace TunnelActors.Tests.Auth;

/// <summary>The handshake as a pure exchange of bytes between two ends, in every way the bytes can be cut.</summary>
public sealed class HandshakeTests
{
    private static readonly byte[] KeyBytes = RandomNumberGenerator.GetBytes(PreSharedKey.Length);
    private static readonly PreSharedKey Key = PreSharedKey.FromBytes(KeyBytes);
    private static readonly TimeSpan Skew = TimeSpan.FromMinutes(5);

    private sealed class Clock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static Handshake Dialer(PreSharedKey? key = null, TimeProvider? clock = null) => new(key ?? Key, HandshakeRole.Dialer, Skew, clock: clock);

    private static Handshake Listener(ReplayCache? replays = null, TimeProvider? clock = null, PreSharedKey? key = null) =>
        new(key ?? Key, HandshakeRole.Listener, Skew, replays ?? new ReplayCache(100), clock);

    /// <summary>Runs both ends against each other, each side's output cut into pieces of <paramref name="piece"/> bytes.</summary>
    private static (Handshake.Result Dialer, Handshake.Result Listener, int ListenerSent) Exchange(Handshake dialer, Handshake listener, int piece, byte[]? trailing = null)
    {
        var toListener = new List<byte>(dialer.Greeting);
        if (trailing is not null) toListener.AddRange(trailing);
        var toDialer = new List<byte>(listener.Greeting);
        Handshake.Result dialerResult = default, listenerResult = default;
        var listenerSent = listener.Greeting.Length;
        for (var round = 0; round < 1000 && (dialerResult.State == Handshake.State.InProgress || listenerResult.State == Handshake.State.InProgress); round++)
        {
            if (listenerResult.State == Handshake.State.InProgress && toListener.Count > 0)
            {
                var take = Math.Min(piece, toListener.Count);
                listenerResult = listener.Receive(toListener.Take(take).ToArray());
                toListener.RemoveRange(0, take);
                if (listenerResult.State == Handshake.State.Done) listenerResult = listenerResult with { Surplus = listenerResult.Surplus + toListener.Count };
                if (listenerResult.ProofToSend is { } answer)
                {
                    toDialer.AddRange(answer);
                    listenerSent += answer.Length;
                }
            }
            if (dialerResult.State == Handshake.State.InProgress && toDialer.Count > 0)
            {
                var take = Math.Min(piece, toDialer.Count);
                dialerResult = dialer.Receive(toDialer.Take(take).ToArray());
                toDialer.RemoveRange(0, take);
                Assert.Null(dialerResult.ProofToSend);
            }
            if (listenerResult.State == Handshake.State.Failed) break;
        }
        return (dialerResult, listenerResult, listenerSent);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(36)]
    [InlineData(1000)]
    public void Two_ends_with_the_same_key_prove_it_to_each_other_however_the_bytes_are_cut(int piece)
    {
        var dialer = Dialer();
        var listener = Listener();
        var (dialerResult, listenerResult, _) = Exchange(dialer, listener, piece);
        Assert.Equal(Handshake.State.Done, dialerResult.State);
        Assert.Equal(Handshake.State.Done, listenerResult.State);
        Assert.Equal(dialer.FlowId, listener.FlowId);
    }

    [Fact]
    public void Frames_right_behind_the_proof_are_left_for_the_frame_stream()
    {
        var (_, listener, _) = Exchange(Dialer(), Listener(), piece: 1000, trailing: [0, 3, 1, 2, 3]);
        Assert.Equal(Handshake.State.Done, listener.State);
        Assert.Equal(5, listener.Surplus);
    }

    [Fact]
    public void The_listener_sends_nothing_to_a_dialer_with_another_key()
    {
        var other = PreSharedKey.FromBytes(RandomNumberGenerator.GetBytes(PreSharedKey.Length));
        foreach (var piece in new[] { 1, 1000 })
        {
            var (dialer, listener, sent) = Exchange(Dialer(other), Listener(), piece);
            Assert.NotEqual(Handshake.State.Done, dialer.State);
            Assert.Equal(Handshake.State.Failed, listener.State);
            Assert.Contains("proof", listener.Failure);
            Assert.Equal(0, sent);
        }
    }

    [Fact]
    public void The_listener_says_nothing_at_all_before_the_dialer_has_proven_the_key()
    {
        var listener = Listener();
        Assert.Empty(listener.Greeting);
        var hello = Dialer().Greeting;
        for (var i = 0; i < hello.Length - 1; i++)
        {
            var result = listener.Receive(hello.AsSpan(i, 1));
            Assert.Equal(Handshake.State.InProgress, result.State);
            Assert.Null(result.ProofToSend);
        }
        Assert.NotNull(listener.Receive(hello.AsSpan(hello.Length - 1)).ProofToSend);
    }

    [Fact]
    public void A_dialer_refuses_a_listener_that_does_not_hold_the_key()
    {
        var other = PreSharedKey.FromBytes(RandomNumberGenerator.GetBytes(PreSharedKey.Length));
        var dialer = Dialer();
        // A listener that holds another key refuses the hello; one that answered anyway (an impostor) fails the dialer's check.
        var impostor = new Handshake(other, HandshakeRole.Listener, Skew, new ReplayCache(100));
        var forged = new Handshake(other, HandshakeRole.Dialer, Skew).Greeting;
        var answer = impostor.Receive(forged).ProofToSend!;
        var result = dialer.Receive(answer);
        Assert.Equal(Handshake.State.Failed, result.State);
        Assert.Contains("proof", result.Failure);
    }

    [Fact]
    public void A_recorded_hello_replayed_within_the_window_is_refused_without_an_answer()
    {
        var replays = new ReplayCache(100);
        var hello = Dialer().Greeting;
        Assert.Equal(Handshake.State.Done, Listener(replays).Receive(hello).State);

        var replayed = Listener(replays).Receive(hello);
        Assert.Equal(Handshake.State.Failed, replayed.State);
        Assert.Null(replayed.ProofToSend);
        Assert.Contains("replayed", replayed.Failure);
    }

    [Fact]
    public void A_hello_from_a_clock_outside_the_skew_is_refused_and_names_the_setting()
    {
        var now = DateTimeOffset.UtcNow;
        foreach (var offset in new[] { TimeSpan.FromMinutes(6), TimeSpan.FromMinutes(-6) })
        {
            var hello = Dialer(clock: new Clock(now + offset)).Greeting;
            var result = Listener(clock: new Clock(now)).Receive(hello);
            Assert.Equal(Handshake.State.Failed, result.State);
            Assert.Null(result.ProofToSend);
            Assert.Contains("tunnel.auth.max-clock-skew", result.Failure);
            Assert.Contains(offset > TimeSpan.Zero ? "ahead of" : "behind", result.Failure);
        }
        var within = Dialer(clock: new Clock(now + TimeSpan.FromMinutes(4))).Greeting;
        Assert.Equal(Handshake.State.Done, Listener(clock: new Clock(now)).Receive(within).State);
    }

    [Fact]
    public void A_full_replay_memory_refuses_new_hellos_until_the_oldest_expire()
    {
        var clock = new Clock(DateTimeOffset.UtcNow);
        var replays = new ReplayCache(2);
        Assert.Equal(Handshake.State.Done, Listener(replays, clock).Receive(Dialer(clock: clock).Greeting).State);
        Assert.Equal(Handshake.State.Done, Listener(replays, clock).Receive(Dialer(clock: clock).Greeting).State);
        var refused = Listener(replays, clock).Receive(Dialer(clock: clock).Greeting);
        Assert.Equal(Handshake.State.Failed, refused.State);
        Assert.Contains("tunnel.auth.replay-memory", refused.Failure);

        clock.Now += Skew + TimeSpan.FromSeconds(2);
        Assert.Equal(Handshake.State.Done, Listener(replays, clock).Receive(Dialer(clock: clock).Greeting).State);
        Assert.Equal(1, replays.Count);
    }

    [Fact]
    public void A_side_fed_its_own_hello_back_refuses_it()
    {
        var dialer = Dialer();
        var result = dialer.Receive(dialer.Greeting);
        Assert.Equal(Handshake.State.Failed, result.State);
        Assert.Contains("same end", result.Failure);
    }

    [Fact]
    public void Plain_frames_from_a_peer_without_a_key_fail_at_once()
    {
        var result = Listener().Receive([0, 4, 1, 2]);
        Assert.Equal(Handshake.State.Failed, result.State);
        Assert.Contains("did not start", result.Failure);
    }

    [Fact]
    public void An_older_peer_is_refused_by_name_on_either_end()
    {
        // A version 2 dialer greets with 'T' 'A' 2 'D' and 32 random bytes, and waits for the listener's greeting.
        byte[] olderDialer = [(byte)'T', (byte)'A', 2, (byte)'D', .. RandomNumberGenerator.GetBytes(32)];
        var atListener = Listener().Receive(olderDialer);
        Assert.Equal(Handshake.State.Failed, atListener.State);
        Assert.Null(atListener.ProofToSend);
        Assert.Contains("version 2, this side 4: it is an older TunnelActors", atListener.Failure);

        // A version 2 listener greets at once, whatever the dialer sent.
        byte[] olderListener = [(byte)'T', (byte)'A', 2, (byte)'L', .. RandomNumberGenerator.GetBytes(32)];
        var atDialer = Dialer().Receive(olderListener);
        Assert.Equal(Handshake.State.Failed, atDialer.State);
        Assert.Contains("version 2, this side 4: it is an older TunnelActors", atDialer.Failure);

        // A version 3 dialer's hello has this version's layout; only the version byte tells it apart.
        var version3 = Dialer().Greeting;
        version3[2] = 3;
        Assert.Contains("version 3, this side 4: it is an older TunnelActors", Listener().Receive(version3).Failure);

        var newer = Dialer().Greeting;
        newer[2] = 9;
        Assert.Contains("version 9, this side 4: this side is the older", Listener().Receive(newer).Failure);
    }

    [Fact]
    public void The_hello_carries_no_part_of_the_key()
    {
        var hello = Dialer().Greeting;
        for (var i = 0; i + 4 <= KeyBytes.Length; i++)
            Assert.False(hello.AsSpan().IndexOf(KeyBytes.AsSpan(i, 4)) >= 0);
    }
}
