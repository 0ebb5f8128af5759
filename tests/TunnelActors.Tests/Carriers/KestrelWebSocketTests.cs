using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TunnelActors.Flow;
using TunnelActors.Tests.Support;
using Xunit;

namespace TunnelActors.Tests.Carriers;

/// <summary>
/// The dialer's WebSocket (its upgrade request, its masked frames, its answers to pings) against another implementation:
/// ASP.NET Core's WebSocket server on Kestrel, which echoes every message on the connection it came on, and pings every
/// 100 ms, ending a connection whose pong does not come within a second.
/// </summary>
public sealed class KestrelWebSocketTests : IAsyncLifetime
{
    private static readonly TimeSpan KeepAliveTimeout = TimeSpan.FromSeconds(1);
    private WebApplication _server = null!;
    private readonly ConcurrentQueue<string> _faults = new();
    private int _connections;
    private long _messages;
    private string _address = "";

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        _server = builder.Build();
        _server.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromMilliseconds(100), KeepAliveTimeout = KeepAliveTimeout });
        _server.Map("/tunnel", EchoAsync);
        await _server.StartAsync();
        _address = _server.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single()
            .Replace("http://", "ws://");
    }

    private async Task EchoAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }
        Interlocked.Increment(ref _connections);
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        var buffer = new byte[70_000];
        try
        {
            while (true)
            {
                var length = 0;
                ValueWebSocketReceiveResult part;
                do
                {
                    part = await socket.ReceiveAsync(buffer.AsMemory(length), CancellationToken.None);
                    length += part.Count;
                } while (!part.EndOfMessage);
                if (part.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
                    return;
                }
                if (part.MessageType != WebSocketMessageType.Binary) _faults.Enqueue($"a {part.MessageType} message");
                Interlocked.Increment(ref _messages);
                await socket.SendAsync(buffer.AsMemory(0, length), WebSocketMessageType.Binary, endOfMessage: true, CancellationToken.None);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
        {
            // A tunnel connection the side ends at its own close is not a fault; one Kestrel ends (no pong) is.
            if (socket.State != WebSocketState.Closed || e is OperationCanceledException) _faults.Enqueue($"{e.GetType().Name}: {e.Message} ({socket.State})");
        }
    }

    [Fact]
    public async Task Datagrams_cross_to_aspnet_cores_websocket_server_one_message_each_and_its_pings_are_answered()
    {
        await using var client = await Sides.StartAsync("ws-kestrel", ("tunnel.tcp.max-queue-delay", "5s"), ("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", $"{_address}/tunnel"));

        var failures = (await Peers.EchoAsync(client.UdpEndpoint, 20, [0, 1, 125, 126, 1200], rounds: 3)).ToList();
        // Longer than Kestrel waits for a pong: the connections stay (each answered its pings), and carry on.
        await Task.Delay(KeepAliveTimeout * 2);
        failures.AddRange(await Peers.EchoAsync(client.UdpEndpoint, 20, [1200], rounds: 1));
        failures.AddRange(await Peers.EchoInTurnAsync(client.UdpEndpoint, 2, [8000, 65000]));

        Assert.True(failures.Count == 0, $"{string.Join("; ", failures)}; {SideResources.For(client.System).Counters}");
        Assert.Empty(_faults);
        Assert.Equal(20 * 5 * 3 + 20 + 2 * 2, Interlocked.Read(ref _messages));
        // One connection per peer (mullvad orientation), none lost to a missed pong and dialed again.
        Assert.Equal(42, Volatile.Read(ref _connections));
        Assert.Equal(42, SideMetrics.Read("ws-kestrel", "connections.opened", ("origin", "dialed"), ("carrier", "ws")));
    }

    public async Task DisposeAsync()
    {
        await _server.StopAsync();
        await _server.DisposeAsync();
    }
}
