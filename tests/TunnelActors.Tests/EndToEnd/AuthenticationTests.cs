using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors.Auth;
using TunnelActors.Configuration;
using TunnelActors.Flow;
using TunnelActors.Observability;
using TunnelActors.Tools;
using TunnelActors.Tools.Demo;

namespace TunnelActors.Tests.EndToEnd;

/// <summary>Keyed tunnel links, allow-lists and the strangers they keep out, over real loopback sockets.</summary>
public sealed class AuthenticationTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private readonly TempFile _key = new(PreSharedKey.Generate());
    private readonly TempFile _otherKey = new(PreSharedKey.Generate());
    private readonly UdpEcho _echo = new(new IPEndPoint(IPAddress.Loopback, 0));

    private (string, string) Key => ("tunnel.auth.psk-file", _key.Path);

    private Task<TunnelSide> NatAsync(params (string, string)[] settings) =>
        Sides.StartAsync("nat", [("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.auth.handshake-timeout", "1s"), .. settings]);

    private Task<TunnelSide> RelayAsync(TunnelSide nat, params (string, string)[] settings) =>
        Sides.StartAsync("relay", [("tunnel.tcp.connect", nat.TcpEndpoint.ToString()), ("tunnel.udp.forward", _echo.LocalEndPoint.ToString()),
            ("tunnel.tcp.reconnect.min-backoff", "100ms"), ("tunnel.tcp.reconnect.max-backoff", "200ms"), .. settings]);

    private static LinkCounters Links(TunnelSide side) => SideResources.For(side.System).Links;

    // Datagrams of up to 1,200 bytes: twenty peers' 9,000-byte echoes at once overflow the test echo's
    // default kernel buffer, which loses them as UDP does (the data path's own tests cover large datagrams).
    [Fact]
    public async Task Sides_with_the_same_key_carry_every_peer_in_both_orientations()
    {
        await using var nat = await NatAsync(Key);
        await using var relay = await RelayAsync(nat, Key);
        Assert.Empty(await Peers.EchoAsync(nat.UdpEndpoint, 20, [0, 1, 1200], rounds: 2));

        await using var server = await Sides.StartAsync("server", ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", _echo.LocalEndPoint.ToString()), Key);
        await using var client = await Sides.StartAsync("client", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", server.TcpEndpoint.ToString()), Key);
        Assert.Empty(await Peers.EchoAsync(client.UdpEndpoint, 20, [0, 1, 1200], rounds: 2));
        Assert.Equal(0, Links(nat).Refused(Refusal.HandshakeFailed) + Links(server).Refused(Refusal.HandshakeFailed));
    }

    [Fact]
    public async Task A_stranger_who_connects_first_gets_no_peer_traffic_and_is_closed_while_the_peer_loses_nothing()
    {
        await using var nat = await NatAsync(Key);
        using var stranger = new TcpClient();
        await stranger.ConnectAsync(nat.TcpEndpoint);
        var strangerRead = Connections.ReadUntilClosedAsync(stranger, Wait);

        await using var relay = await RelayAsync(nat, Key);
        Assert.Empty(await Peers.EchoAsync(nat.UdpEndpoint, 5, [1, 1200], rounds: 3));

        // The listener says nothing before the dialer has proven the key: the stranger reads not one byte.
        Assert.Empty((await strangerRead).Received);
        Assert.True(Links(nat).Refused(Refusal.HandshakeTimeout) >= 1);
    }

    [Theory]
    [InlineData("another key", Refusal.HandshakeFailed)]
    [InlineData("no key", Refusal.HandshakeTimeout)]
    public async Task A_far_side_with_another_key_or_none_has_every_connection_refused_and_carries_nothing(string relayKey, Refusal reason)
    {
        await using var nat = await NatAsync(Key);
        // A peer whose session waits for a pooled connection: any connection the NAT box admitted would carry its datagram.
        using var peer = Peers.Bind(AddressFamily.InterNetwork);
        using var stopListening = new CancellationTokenSource();
        var reply = peer.ReceiveFromAsync(new byte[64], SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), stopListening.Token).AsTask();
        await peer.SendToAsync(new byte[] { 1 }, nat.UdpEndpoint);

        await using var relay = await RelayAsync(nat, relayKey == "another key"
            ? ("tunnel.auth.psk-file", _otherKey.Path) : ("tunnel.auth.allow-unauthenticated", "on"));
        LinkCounters natLinks = Links(nat), relayLinks = Links(relay);
        long Refused() => Enum.GetValues<Refusal>().Sum(natLinks.Refused);
        // The relay redials what is refused: once the counts agree, every connection it made so far, over more than
        // one round of its pool, was accepted by the NAT box, refused, and failed on the relay's side.
        Assert.True(await BoundSockets.EventuallyAsync(() =>
        {
            var dialed = relayLinks.Opened(LinkOrigin.Dialed);
            return dialed >= 8 && relayLinks.FailedAttempts == dialed && natLinks.Opened(LinkOrigin.Accepted) == dialed && Refused() == dialed;
        }, TimeSpan.FromSeconds(30)), $"relay: dialed {relayLinks.Opened(LinkOrigin.Dialed)}, failed attempts {relayLinks.FailedAttempts}; NAT box: {natLinks}");
        Assert.Equal(Refused(), natLinks.Refused(reason));

        // And while the relay still runs, nothing reached the peer: neither the datagram that waited nor one sent now.
        await peer.SendToAsync(new byte[] { 2 }, nat.UdpEndpoint);
        var replied = await Task.WhenAny(reply, Task.Delay(TimeSpan.FromMilliseconds(500)));
        Assert.False(replied == reply, $"the peer got a datagram through a relay with {relayKey}");
        await stopListening.CancelAsync();
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("truncated")]
    [InlineData("replayed")]
    public async Task Hostile_handshakes_are_closed_and_counted_and_the_side_keeps_serving(string kind)
    {
        await using var nat = await NatAsync(Key);
        var bytes = kind switch
        {
            "garbage" => RandomNumberGenerator.GetBytes(4096),
            // A hello cut short, then silence: the handshake timeout closes it.
            "truncated" => new Handshake(PreSharedKey.FromBytes(RandomNumberGenerator.GetBytes(PreSharedKey.Length)), HandshakeRole.Dialer, Skew).Greeting[..20],
            // A genuine dialer's hello, which the side accepted on another connection, recorded and sent again.
            _ => await AcceptedHelloAsync(nat),
        };
        using (var hostile = new TcpClient())
        {
            await hostile.ConnectAsync(nat.TcpEndpoint);
            await hostile.GetStream().WriteAsync(bytes);
            Assert.Empty((await Connections.ReadUntilClosedAsync(hostile, Wait)).Received);
        }
        Assert.True(Links(nat).Refused(Refusal.HandshakeFailed) + Links(nat).Refused(Refusal.HandshakeTimeout) >= 1);

        await using var relay = await RelayAsync(nat, Key);
        Assert.Empty(await Peers.EchoAsync(nat.UdpEndpoint, 3, [1, 1200]));
    }

    [Theory]
    [InlineData("127.0.0.1", "127.0.0.0/8", "10.0.0.0/8, 2001:db8::/32")]
    [InlineData("[::1]", "::1", "2001:db8::/32, 127.0.0.0/8")]
    public async Task Tunnel_connections_from_outside_tcp_allow_are_closed_and_counted(string host, string allow, string elsewhere)
    {
        Task<TunnelSide> Nat(string networks) => Sides.StartAsync("nat", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.listen", $"{host}:0"),
            ("tunnel.tcp.allow", networks));

        await using var nat = await Nat(elsewhere);
        await using (await RelayAsync(nat))
            Assert.True(await BoundSockets.EventuallyAsync(() => Links(nat).Refused(Refusal.NotAllowed) >= 1, Wait));
        Assert.Equal(0, Links(nat).Refused(Refusal.HandshakeFailed) + Links(nat).Refused(Refusal.HandshakeTimeout));

        await using var allowing = await Nat(allow);
        await using var relay = await RelayAsync(allowing);
        Assert.Empty(await Peers.EchoAsync(allowing.UdpEndpoint, 3, [1, 1200]));
        Assert.Equal(0, Links(allowing).Refused(Refusal.NotAllowed));
    }

    [Theory]
    [InlineData("127.0.0.1", "127.0.0.0/8", true)]
    [InlineData("127.0.0.1", "10.0.0.0/8", false)]
    [InlineData("[::1]", "::1/128", true)]
    [InlineData("[::1]", "2001:db8::/32", false)]
    public async Task Datagrams_from_outside_udp_allow_are_dropped_and_counted(string host, string allow, bool allowed)
    {
        await using var server = await Sides.StartAsync("server", ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", _echo.LocalEndPoint.ToString()));
        await using var client = await Sides.StartAsync("client", ("tunnel.udp.listen", $"{host}:0"),
            ("tunnel.tcp.connect", server.TcpEndpoint.ToString()), ("tunnel.udp.allow", allow));
        var failures = await Peers.EchoAsync(client.UdpEndpoint, 1, [1]);
        var counters = await client.CountersAsync();
        if (allowed)
        {
            Assert.Empty(failures);
        }
        else
        {
            Assert.NotEmpty(failures);
            Assert.Equal(1, counters.Dropped(DropReason.NotAllowed));
        }
    }

    [Fact]
    public async Task An_accepted_connection_without_a_whole_frame_counts_no_session_binds_no_socket_and_is_closed_at_the_first_frame_deadline_but_pooled_ones_wait()
    {
        const string deadline = "300ms";
        // The NAT box's pooled connections, silent until a peer comes, are admitted first: their deadline,
        // if they had one, would pass before the forward side's.
        await using var nat = await NatAsync(("tunnel.tcp.allow", "127.0.0.1"), ("tunnel.tcp.first-frame-timeout", deadline));
        await using var relay = await RelayAsync(nat, ("tunnel.tcp.pool-size", "2"));
        Assert.True(await BoundSockets.EventuallyAsync(() => BoundSockets.KeepAliveTimers(nat.TcpEndpoint.Port).Accepted >= 2, Wait));

        // Its forward sockets bind to an address of their own: the kernel's table shows exactly those.
        var forwardAddress = IPAddress.Parse("127.0.0.9");
        await using var server = await Sides.StartAsync("server", ("tunnel.tcp.listen", "127.0.0.1:0"),
            ("tunnel.udp.forward", _echo.LocalEndPoint.ToString()), ("tunnel.udp.forward-bind", $"{forwardAddress}:0"),
            ("tunnel.tcp.first-frame-timeout", deadline));
        var sessions = SideResources.For(server.System).Sessions;
        using (var silent = new TcpClient())
        {
            await silent.ConnectAsync(server.TcpEndpoint);
            Assert.Empty((await Connections.ReadUntilClosedAsync(silent, Wait)).Received);
        }
        // Half a frame's length, then nothing: not a frame either. For as long as the side holds it, it counts no
        // session and binds no forward socket for it.
        using (var halfFrame = new TcpClient())
        {
            await halfFrame.ConnectAsync(server.TcpEndpoint);
            await halfFrame.GetStream().WriteAsync(new byte[] { 0 });
            var closing = Connections.ReadUntilClosedAsync(halfFrame, Wait);
            var (mostSessions, mostSockets) = (0L, 0);
            while (!closing.IsCompleted)
            {
                (mostSessions, mostSockets) = (Math.Max(mostSessions, sessions.Active), Math.Max(mostSockets, BoundSockets.UdpOn(forwardAddress)));
                await Task.WhenAny(closing, Task.Delay(10));
            }
            Assert.Empty((await closing).Received);
            Assert.Equal(0, mostSessions);
            Assert.Equal(0, mostSockets);
        }
        Assert.Equal(0, sessions.Started);
        Assert.Equal(0, BoundSockets.UdpOn(forwardAddress));
        Assert.Equal(2, Links(server).Refused(Refusal.Silent));

        Assert.Empty(await Peers.EchoAsync(nat.UdpEndpoint, 2, [1, 1200]));
        Assert.Equal(0, Links(nat).Refused(Refusal.Silent));
    }

    [Fact]
    public async Task A_session_that_ends_while_its_connection_is_in_the_handshake_closes_it_at_once_with_a_fin()
    {
        // A far side that accepts and never answers the greeting: the handshake cannot finish before the session ends.
        using var mute = new TcpListener(IPAddress.Loopback, 0);
        mute.Start();
        await using var client = await Sides.StartAsync("mute-client", ("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", mute.LocalEndpoint.ToString()!), Key, ("tunnel.auth.handshake-timeout", "60s"),
            ("tunnel.tcp.close-timeout", "20s"), ("tunnel.session.unanswered-timeout", "300ms"));
        using var peer = Peers.Bind(AddressFamily.InterNetwork);
        await peer.SendToAsync(new byte[] { 1 }, client.UdpEndpoint);
        using var accepted = await Connections.AcceptAsync(mute, Wait);

        // The session ends after 300 ms unanswered; its connection must then end with a FIN, not wait out close-timeout
        // and be reset.
        var closed = await Connections.ReadUntilClosedAsync(accepted, TimeSpan.FromSeconds(10));
        Assert.False(closed.Reset, "the connection was reset");
        Assert.Equal(Handshake.HelloLength, closed.Received.Length);
    }

    [Fact]
    public async Task A_proven_dialer_whose_first_frame_is_not_a_flow_name_is_refused_and_starts_no_flow()
    {
        await using var server = await Sides.StartAsync("misnamed", ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", _echo.LocalEndPoint.ToString()), Key);
        using var dialer = new TcpClient();
        await dialer.ConnectAsync(server.TcpEndpoint);
        await dialer.GetStream().WriteAsync(new Handshake(KeyFile.Load("tunnel.auth.psk-file", _key.Path), HandshakeRole.Dialer, Skew).Greeting);
        var answer = new byte[Handshake.AnswerLength];
        await dialer.GetStream().ReadExactlyAsync(answer).AsTask().WaitAsync(Wait);

        // A datagram's frame where the flow's 16-byte name frame belongs (a version 3 dialer sent the name bare).
        await dialer.GetStream().WriteAsync(new byte[] { 0, 5, 1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 });

        var closed = await Connections.ReadUntilClosedAsync(dialer, Wait);
        Assert.Empty(closed.Received);
        Assert.Equal(1, Links(server).Refused(Refusal.HandshakeFailed));
        Assert.Equal(0, SideMetrics.Read("misnamed", "sessions.started"));
    }

    private static readonly TimeSpan Skew = TimeSpan.FromMinutes(5);

    /// <summary>A hello made with the side's key, which the side answers on a connection of its own; returned to be replayed.</summary>
    private async Task<byte[]> AcceptedHelloAsync(TunnelSide side)
    {
        var hello = new Handshake(KeyFile.Load("tunnel.auth.psk-file", _key.Path), HandshakeRole.Dialer, Skew).Greeting;
        using var genuine = new TcpClient();
        await genuine.ConnectAsync(side.TcpEndpoint);
        await genuine.GetStream().WriteAsync(hello);
        var answer = new byte[Handshake.AnswerLength];
        await genuine.GetStream().ReadExactlyAsync(answer).AsTask().WaitAsync(Wait);
        Assert.Equal((byte)'L', answer[3]);
        return hello;
    }

    public void Dispose()
    {
        _echo.Dispose();
        _key.Dispose();
        _otherKey.Dispose();
    }
}
