using System.Net;
using System.Net.Sockets;
using TunnelActors.Tests.Support;
using Xunit;

namespace TunnelActors.Tests.Faults;

/// <summary>
/// The relay host's pool shrinks while the NAT box leases the connection it retires: whatever the NAT box already
/// sent on it is either delivered or counted as dropped, never lost without a trace.
/// </summary>
public sealed class PoolShrinkTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Frames_that_reach_a_connection_the_pool_is_retiring_are_delivered_or_counted()
    {
        using var target = new UdpTarget();
        // The test plays the NAT box: it accepts the relay's pooled connections and decides what each carries.
        using var natBox = new TcpListener(IPAddress.Loopback, 0);
        natBox.Start();
        await using var relay = await Sides.StartAsync("shrink-relay", ("tunnel.tcp.connect", natBox.LocalEndpoint.ToString()!),
            ("tunnel.udp.forward", target.LocalEndPoint.ToString()), ("tunnel.tcp.pool-size", "1"), ("tunnel.tcp.pool-max", "4"),
            ("tunnel.tcp.pool-shrink-after", "300ms"));
        var connections = new List<TcpClient>();
        try
        {
            // The one pooled connection carries a frame while no other is idle: the pool doubles to two and dials them.
            connections.Add(await Connections.AcceptAsync(natBox));
            await connections[0].GetStream().WriteAsync(Frame(0));
            Assert.True(await BoundSockets.EventuallyAsync(() => target.Received == 1, Wait));
            connections.Add(await Connections.AcceptAsync(natBox));
            connections.Add(await Connections.AcceptAsync(natBox));

            // With no burst since, the pool halves back to one and closes the other idle connection: find the one that got the FIN.
            var retired = await FirstClosedAsync(connections[1], connections[2]);
            const int late = 5;
            for (var i = 1; i <= late; i++) await retired.GetStream().WriteAsync(Frame(i));

            var counters = await relay.CountersAsync();
            Assert.True(await BoundSockets.EventuallyAsync(() => counters.ToUdpDatagrams + counters.TotalDropped == 1 + late, Wait),
                $"of {1 + late} frames sent to the relay, {counters.ToUdpDatagrams} were delivered and {counters.TotalDropped} counted as dropped: {counters}");
        }
        finally
        {
            foreach (var connection in connections) connection.Dispose();
        }
    }

    private static byte[] Frame(int n) => Frames.Of(BitConverter.GetBytes(n));

    /// <summary>The connection of the two on which the relay closed its side first (a read returns end of stream).</summary>
    private static async Task<TcpClient> FirstClosedAsync(TcpClient a, TcpClient b)
    {
        async Task<TcpClient> Closed(TcpClient client)
        {
            await Connections.ReadUntilClosedAsync(client, Wait);
            return client;
        }
        var first = await Task.WhenAny(Closed(a), Closed(b));
        return await first;
    }
}
