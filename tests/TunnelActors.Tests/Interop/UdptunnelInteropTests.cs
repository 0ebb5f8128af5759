using System.Net;
using System.Net.Sockets;
using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors.Tools.Demo;

namespace TunnelActors.Tests.Interop;

/// <summary>
/// Wire compatibility with Debian's udptunnel (Columbia's 1.1). It binds its UDP port on every address and
/// sends what comes out of the tunnel from a second socket to a fixed address and the same port, so it runs
/// in a network namespace of its own and the UDP application on this side sits on the veth address.
/// </summary>
public sealed class UdptunnelInteropTests
{
    private static readonly int[] Sizes = [1, 16, 100, 512, 1200, 1400, 4000, 8000];
    private const int Rounds = 25;

    [InteropFact]
    public async Task Udptunnel_client_against_our_tcp_listen_udp_forward_side()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        await using var server = await Sides.StartAsync("server",
            ("tunnel.tcp.listen", $"{ns.HostAddress}:0"), ("tunnel.udp.forward", echo.LocalEndPoint.ToString()));

        using var app = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        app.Bind(new IPEndPoint(ns.HostAddress, 0));
        var port = ((IPEndPoint)app.LocalEndPoint!).Port;
        var udptunnel = ns.Start("udptunnel", "-c", $"{ns.HostAddress}/{server.TcpEndpoint.Port}", $"{ns.HostAddress}/{port}");
        Assert.True(await NetworkNamespace.WaitForUdpAsync(udptunnel, port), "udptunnel did not bind its UDP port");
        Assert.True(await NetworkNamespace.WaitForTcpConnectedAsync(udptunnel, server.TcpEndpoint.Port), "udptunnel did not connect");
        Assert.False(udptunnel.HasExited, "udptunnel exited");

        // udptunnel answers from its second socket: the same address, another port.
        await AssertEchoesAsync(app, new IPEndPoint(ns.NamespaceAddress, port), from => from.Address.Equals(ns.NamespaceAddress));
        Assert.Equal(Sizes.Length * Rounds, echo.Echoed);
    }

    [InteropFact]
    public async Task Our_udp_listen_tcp_connect_side_against_a_udptunnel_server()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        // A namespace made for this test: nothing else can hold a port in it.
        const int tunnelPort = 7000;

        using var target = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        target.Bind(new IPEndPoint(ns.HostAddress, 0));
        var port = ((IPEndPoint)target.LocalEndPoint!).Port;
        var udptunnel = ns.Start("udptunnel", "-s", tunnelPort.ToString(), $"{ns.HostAddress}/{port}");
        Assert.True(await NetworkNamespace.WaitForTcpListenAsync(udptunnel, tunnelPort), "udptunnel did not listen");
        Assert.False(udptunnel.HasExited, "udptunnel exited");

        // The far application answers udptunnel's fixed port, not the second socket that sent to it.
        using var stop = new CancellationTokenSource();
        var replies = ReplyToAsync(target, new IPEndPoint(ns.NamespaceAddress, port), stop.Token);

        await using var client = await Sides.StartAsync("client",
            ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", $"{ns.NamespaceAddress}:{tunnelPort}"));
        using var peer = Peers.Bind(AddressFamily.InterNetwork);
        await AssertEchoesAsync(peer, client.UdpEndpoint, from => from.Equals(client.UdpEndpoint));
        await stop.CancelAsync();
        Assert.Equal(Sizes.Length * Rounds, await replies);
    }

    private static async Task AssertEchoesAsync(Socket socket, IPEndPoint to, Func<IPEndPoint, bool> repliesFrom)
    {
        var buffer = new byte[65536];
        var random = new Random(4571);
        for (var round = 0; round < Rounds; round++)
        foreach (var size in Sizes)
        {
            var payload = new byte[size];
            random.NextBytes(payload);
            await socket.SendToAsync(payload, to);
            var reply = await Peers.ReceiveFromAsync(socket, buffer, Peers.ReplyTimeout);
            Assert.True(reply is not null, $"no echo for a {size}-byte datagram in round {round}");
            Assert.True(repliesFrom(reply!.Value.Source), $"the echo of a {size}-byte datagram came from {reply.Value.Source}");
            Assert.True(buffer.AsSpan(0, reply.Value.Length).SequenceEqual(payload), $"the echo of a {size}-byte datagram differs");
        }
    }

    private static async Task<int> ReplyToAsync(Socket socket, IPEndPoint replyTo, CancellationToken stop)
    {
        var buffer = new byte[65536];
        var count = 0;
        try
        {
            while (true)
            {
                var received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), stop);
                await socket.SendToAsync(buffer.AsMemory(0, received.ReceivedBytes), SocketFlags.None, replyTo, stop);
                count++;
            }
        }
        catch (OperationCanceledException)
        {
            return count;
        }
    }
}
