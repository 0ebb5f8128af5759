using System.Net;
using System.Net.Sockets;
using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors.Flow;
using TunnelActors.Observability;

namespace TunnelActors.Tests.EndToEnd;

/// <summary>What it takes on the UDP-forward side for a tunnel connection to bind a forward socket and count as a session.</summary>
public sealed class ActivationTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Connections_that_send_less_than_a_whole_frame_bind_no_forward_socket_and_count_no_session()
    {
        var forwardAddress = IPAddress.Parse("127.0.0.9");
        using var target = new UdpTarget();
        await using var server = await Sides.StartAsync("activation", ("tunnel.tcp.listen", "127.0.0.1:0"),
            ("tunnel.udp.forward", target.LocalEndPoint.ToString()), ("tunnel.udp.forward-bind", $"{forwardAddress}:0"),
            ("tunnel.tcp.max-connections-per-source", "1000"));
        var connections = new List<TcpClient>();
        try
        {
            // One byte each: the first half of a frame's length.
            for (var i = 0; i < 300; i++)
            {
                var connection = new TcpClient();
                await connection.ConnectAsync(server.TcpEndpoint);
                await connection.GetStream().WriteAsync(new byte[] { 0 });
                connections.Add(connection);
            }
            // Then a whole frame on one more: its datagram reaching the target is the point by which the side has read
            // what came before it on every connection.
            var whole = new TcpClient();
            connections.Add(whole);
            await whole.ConnectAsync(server.TcpEndpoint);
            await whole.GetStream().WriteAsync(Frames.Of([7]));
            Assert.True(await BoundSockets.EventuallyAsync(() => target.Received == 1, Wait), "the whole frame did not reach the target");
            var links = SideResources.For(server.System).Links;
            Assert.True(await BoundSockets.EventuallyAsync(() => links.Opened(LinkOrigin.Accepted) == 301, Wait));

            Assert.Equal(1, BoundSockets.UdpOn(forwardAddress));
            Assert.Equal(1, SideResources.For(server.System).Sessions.Active);
        }
        finally
        {
            foreach (var connection in connections) connection.Dispose();
        }
    }
}
