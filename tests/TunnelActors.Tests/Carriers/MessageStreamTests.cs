using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using TunnelActors.Carriers;
using Xunit;

namespace TunnelActors.Tests.Carriers;

/// <summary>
/// The WebSocket seen as a stream of RFC 4571 frames, without actors: over a loopback connection, one end a
/// <see cref="MessageStream"/>, the other a plain .NET WebSocket. Frames written in any cut come out one message each;
/// messages come back as frames, several in one read when they are at hand.
/// </summary>
public sealed class MessageStreamTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly CancellationTokenSource _timeout = new(Wait);
    private Socket _left = null!;
    private Socket _right = null!;
    private MessageStream _frames = null!;
    private WebSocket _peer = null!;

    public async Task InitializeAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        _left = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await _left.ConnectAsync(listener.LocalEndPoint!);
        _right = await listener.AcceptAsync();
        var gathering = MessageStream.Gather(new NetworkStream(_left, ownsSocket: false));
        _frames = MessageStream.Over(WebSocket.CreateFromStream(gathering, new WebSocketCreationOptions { IsServer = false }), gathering);
        _peer = WebSocket.CreateFromStream(new NetworkStream(_right, ownsSocket: false), new WebSocketCreationOptions { IsServer = true });
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(1000)]
    [InlineData(70_000)]
    public async Task Frames_written_in_any_cut_leave_as_one_message_each(int cut)
    {
        int[] sizes = [0, 1, 1200, 65_535, 7, 40_000];
        var datagrams = sizes.Select(RandomNumberGenerator.GetBytes).ToList();
        var stream = datagrams.SelectMany(Frame).ToArray();
        for (var at = 0; at < stream.Length; at += cut)
            await _frames.WriteAsync(stream.AsMemory(at, Math.Min(cut, stream.Length - at)), _timeout.Token);

        foreach (var datagram in datagrams) Assert.Equal(datagram, await ReceiveMessageAsync());
    }

    [Fact]
    public async Task Messages_come_back_as_frames_those_at_hand_in_one_read_and_a_large_one_whole()
    {
        var datagrams = new[] { 5, 1200, 0, 900, 30_000, 3 }.Select(RandomNumberGenerator.GetBytes).ToList();
        foreach (var datagram in datagrams)
            await _peer.SendAsync(datagram, WebSocketMessageType.Binary, endOfMessage: true, _timeout.Token);
        await _peer.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, _timeout.Token);

        var received = new List<byte>();
        var reads = 0;
        var buffer = new byte[16 * 1024];
        int count;
        while ((count = await _frames.ReadAsync(buffer, _timeout.Token)) > 0)
        {
            received.AddRange(buffer.AsSpan(0, count).ToArray());
            reads++;
        }

        Assert.Equal(datagrams.SelectMany(Frame), received);
        // Six messages, one of them larger than the buffer: fewer reads than messages plus the large one's parts.
        Assert.True(reads < datagrams.Count + 2, $"{reads} reads for {datagrams.Count} messages");
    }

    [Fact]
    public async Task A_message_larger_than_a_datagram_fails_the_read()
    {
        await _peer.SendAsync(new byte[65_536], WebSocketMessageType.Binary, endOfMessage: true, _timeout.Token);
        var failure = await Assert.ThrowsAsync<IOException>(async () => _ = await _frames.ReadAsync(new byte[16 * 1024], _timeout.Token));
        Assert.Contains("longer than 65535 bytes", failure.Message);
    }

    private async Task<byte[]> ReceiveMessageAsync()
    {
        var buffer = new byte[70_000];
        var length = 0;
        ValueWebSocketReceiveResult part;
        do
        {
            part = await _peer.ReceiveAsync(buffer.AsMemory(length), _timeout.Token);
            Assert.Equal(WebSocketMessageType.Binary, part.MessageType);
            length += part.Count;
        } while (!part.EndOfMessage);
        return buffer[..length];
    }

    private static byte[] Frame(byte[] datagram)
    {
        var frame = new byte[2 + datagram.Length];
        BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)datagram.Length);
        datagram.CopyTo(frame, 2);
        return frame;
    }

    public Task DisposeAsync()
    {
        _frames.Dispose();
        _peer.Dispose();
        _left.Dispose();
        _right.Dispose();
        _timeout.Dispose();
        return Task.CompletedTask;
    }
}
