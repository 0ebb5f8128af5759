using System.Net;
using System.Net.Sockets;
using Xunit;

namespace TunnelActors.Tests.Support;

/// <summary>The test peers catch a relay that answers from an address other than the one the peer sent to.</summary>
public sealed class PeersTests
{
    [Fact]
    public async Task An_echo_from_another_port_than_the_tunnel_endpoint_fails_the_peer()
    {
        using var tunnel = Peers.Bind(AddressFamily.InterNetwork);
        using var elsewhere = Peers.Bind(AddressFamily.InterNetwork);
        using var stop = new CancellationTokenSource();
        var echoing = EchoFromAsync(tunnel, elsewhere, stop.Token);
        try
        {
            var failure = Assert.Single(await Peers.EchoAsync((IPEndPoint)tunnel.LocalEndPoint!, 1, [8]));
            Assert.Contains($"came from {elsewhere.LocalEndPoint}, not the tunnel endpoint {tunnel.LocalEndPoint}", failure);

            using var peer = Peers.Bind(AddressFamily.InterNetwork);
            await peer.SendToAsync(new byte[] { 1 }, tunnel.LocalEndPoint!);
            await Assert.ThrowsAsync<Xunit.Sdk.XunitException>(() =>
                Peers.ReceiveAsync(peer, new byte[16], TimeSpan.FromSeconds(10), (IPEndPoint)tunnel.LocalEndPoint!));

            using var numbered = new NumberedPeer((IPEndPoint)tunnel.LocalEndPoint!);
            await numbered.SendAsync(0, 3);
            Assert.True(await BoundSockets.EventuallyAsync(() => Volatile.Read(ref _echoed) >= 1 + 1 + 3, TimeSpan.FromSeconds(10)));
            Assert.Equal(0, numbered.Received(0, 3));
        }
        finally
        {
            await stop.CancelAsync();
            await echoing;
        }
    }

    [Fact]
    public async Task An_echo_from_the_tunnel_endpoint_passes()
    {
        using var tunnel = Peers.Bind(AddressFamily.InterNetwork);
        using var stop = new CancellationTokenSource();
        var echoing = EchoFromAsync(tunnel, tunnel, stop.Token);
        try
        {
            Assert.Empty(await Peers.EchoAsync((IPEndPoint)tunnel.LocalEndPoint!, 2, [0, 8]));
            using var numbered = new NumberedPeer((IPEndPoint)tunnel.LocalEndPoint!);
            await numbered.SendAsync(0, 3);
            Assert.True(await BoundSockets.EventuallyAsync(() => numbered.Received(0, 3) == 3, TimeSpan.FromSeconds(10)));
        }
        finally
        {
            await stop.CancelAsync();
            await echoing;
        }
    }

    private int _echoed;

    /// <summary>Echoes what <paramref name="receiver"/> gets, sent back from <paramref name="sender"/>.</summary>
    private async Task EchoFromAsync(Socket receiver, Socket sender, CancellationToken stop)
    {
        var buffer = new byte[65536];
        try
        {
            while (true)
            {
                var received = await receiver.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), stop);
                await sender.SendToAsync(buffer.AsMemory(0, received.ReceivedBytes), SocketFlags.None, received.RemoteEndPoint, stop);
                Interlocked.Increment(ref _echoed);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
