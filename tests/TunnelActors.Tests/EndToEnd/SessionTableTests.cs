using System.Net;
using System.Net.Sockets;
using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors.Flow;
using TunnelActors.Observability;

namespace TunnelActors.Tests.EndToEnd;

/// <summary>A full session table on the UDP-listen side: who keeps a place, who gives it up, and that the cap holds exactly.</summary>
public sealed class SessionTableTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private const int MaxSessions = 20;
    private static readonly IPAddress Real = IPAddress.Parse("127.0.0.2");

    [Fact]
    public async Task Spoofed_sources_from_many_addresses_give_up_their_places_to_real_peers_and_the_cap_holds_exactly()
    {
        // The target answers only what its real peers send (first byte 'R'), as a WireGuard server answers only handshakes it recognises.
        using var target = new UdpTarget(datagram => datagram.Span[0] == (byte)'R');
        await using var server = await Sides.StartAsync("table-server", ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", target.LocalEndPoint.ToString()));
        await using var client = await Sides.StartAsync("table-client", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", server.TcpEndpoint.ToString()),
            ("tunnel.session.max-sessions", MaxSessions.ToString()), ("tunnel.session.max-per-source", "10"));
        var sessions = SideResources.For(client.System).Sessions;

        using var first = Bind(Real);
        Assert.True(await EchoAsync(first, 0, client.UdpEndpoint, 0), "the first real peer got no answer");

        // Spoofed sources on eight addresses, ten ports each, keep sending: four times what the table holds, and
        // new peers at a rate the side admits (session.new-per-second), so that the table is what they exhaust.
        using var stop = new CancellationTokenSource();
        var spoofed = Enumerable.Range(3, 8).SelectMany(a => Enumerable.Range(0, 10).Select(_ => Bind(IPAddress.Parse($"127.0.0.{a}")))).ToList();
        var flooding = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                foreach (var socket in spoofed) await socket.SendToAsync(new byte[] { (byte)'S', 0 }, client.UdpEndpoint);
                await Task.Delay(100);
            }
        });
        try
        {
            Assert.True(await BoundSockets.EventuallyAsync(() => sessions.Peak >= MaxSessions, Wait), "the flood did not fill the table");

            // A new real peer gets a place: an unanswered session gives up its own.
            using var second = Bind(Real);
            Assert.True(await EchoAsync(second, 1, client.UdpEndpoint, 0), "a new real peer got no place while spoofed sessions held the table");
            // The peer that has had answers keeps its place through the flood.
            for (var i = 1; i < 20; i++) Assert.True(await EchoAsync(first, 0, client.UdpEndpoint, i), $"no answer to the first real peer's datagram {i}");
        }
        finally
        {
            await stop.CancelAsync();
            await flooding;
            foreach (var socket in spoofed) socket.Dispose();
        }
        Assert.True(sessions.Peak <= MaxSessions, $"{sessions.Peak} sessions at once with session.max-sessions = {MaxSessions}");
        Assert.True(sessions.Ended(SessionEndReason.Evicted) > 0, "no session was evicted");
        // Its session, and with it its forward socket, was the same throughout: the target saw one source for it.
        Assert.Single(target.SourcesOf((byte)'R', 0));
    }

    private static Socket Bind(IPAddress address)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(address, 0));
        return socket;
    }

    /// <summary>Sends real peer <paramref name="peer"/>'s datagram <paramref name="n"/> until its echo comes back (UDP may lose one), within the test's patience.</summary>
    private static async Task<bool> EchoAsync(Socket socket, byte peer, IPEndPoint tunnel, int n)
    {
        var datagram = new byte[] { (byte)'R', peer, (byte)n };
        var buffer = new byte[64];
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (DateTime.UtcNow < deadline)
        {
            await socket.SendToAsync(datagram, tunnel);
            var length = await Peers.ReceiveAsync(socket, buffer, TimeSpan.FromMilliseconds(500), tunnel);
            if (length == 3 && buffer[1] == peer && buffer[2] == n) return true;
        }
        return false;
    }
}
