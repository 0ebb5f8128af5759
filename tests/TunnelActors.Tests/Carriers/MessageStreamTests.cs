using System.Buffers.Binary;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using TunnelActors.Carriers;
using TunnelActors.Tests.Support;
using Xunit;

namespace TunnelActors.Tests.Carriers;

/// <summary>
/// The WebSocket seen as a stream of RFC 4571 frames, without actors: over a loopback connection, one end a
/// <see cref="MessageStream"/>, the other .NET's own WebSocket (as the listening end when ours dials, and the other way
/// round), or raw bytes where a frame .NET would not send is the point. Frames written in any cut come out one message
/// each; messages, whole or in fragments, come back as frames, several in one read when they are at hand.
/// </summary>
public sealed class MessageStreamTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly CancellationTokenSource _timeout = new(Wait);
    private Socket _left = null!;
    private Socket _right = null!;
    private MessageStream? _frames;
    private WebSocket? _peer;

    public async Task InitializeAsync() => (_left, _right) = await Connections.LoopbackPairAsync();

    /// <summary>Ours on the left (dialing end when <paramref name="dialing"/>), .NET's WebSocket as the other end on the right.</summary>
    private void Open(bool dialing, TimeSpan pingInterval = default)
    {
        _frames = new MessageStream(new NetworkStream(_left, ownsSocket: false), client: dialing, pingInterval);
        _peer = WebSocket.CreateFromStream(new NetworkStream(_right, ownsSocket: false), new WebSocketCreationOptions { IsServer = dialing });
    }

    public static TheoryData<int, bool> Cuts()
    {
        var data = new TheoryData<int, bool>();
        foreach (var cut in new[] { 1, 3, 1000, 70_000 })
        foreach (var dialing in new[] { true, false })
            data.Add(cut, dialing);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cuts))]
    public async Task Frames_written_in_any_cut_leave_as_one_message_each(int cut, bool dialing)
    {
        Open(dialing);
        int[] sizes = [0, 1, 125, 126, 1200, 65_535, 7, 40_000];
        var datagrams = sizes.Select(RandomNumberGenerator.GetBytes).ToList();
        var stream = datagrams.SelectMany(Frame).ToArray();
        for (var at = 0; at < stream.Length; at += cut)
            await _frames!.WriteAsync(stream.AsMemory(at, Math.Min(cut, stream.Length - at)), _timeout.Token);

        foreach (var datagram in datagrams) Assert.Equal(datagram, await ReceiveMessageAsync());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Messages_come_back_as_frames_those_at_hand_in_one_read_and_a_large_one_whole(bool dialing)
    {
        Open(dialing);
        var datagrams = new[] { 5, 1200, 0, 900, 30_000, 3, 65_535 }.Select(RandomNumberGenerator.GetBytes).ToList();
        foreach (var datagram in datagrams)
            await _peer!.SendAsync(datagram, WebSocketMessageType.Binary, endOfMessage: true, _timeout.Token);
        await _peer!.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, _timeout.Token);

        var (received, reads) = await ReadToEndAsync();

        Assert.Equal(datagrams.SelectMany(Frame), received);
        // Seven messages, two of them larger than the buffer: fewer reads than messages plus the large ones' parts.
        Assert.True(reads < datagrams.Count + 4, $"{reads} reads for {datagrams.Count} messages");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_message_in_fragments_comes_back_as_one_frame(bool dialing)
    {
        Open(dialing);
        var datagram = RandomNumberGenerator.GetBytes(50_000);
        var after = RandomNumberGenerator.GetBytes(10);
        foreach (var (from, to) in new[] { (0, 1), (1, 20_000), (20_000, 20_000), (20_000, 50_000) })
            await _peer!.SendAsync(datagram.AsMemory(from, to - from), WebSocketMessageType.Binary, endOfMessage: to == 50_000 && from != to, _timeout.Token);
        await _peer!.SendAsync(after, WebSocketMessageType.Binary, endOfMessage: true, _timeout.Token);
        await _peer.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, _timeout.Token);

        var (received, _) = await ReadToEndAsync();

        Assert.Equal(Frame(datagram).Concat(Frame(after)), received);
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(false, true)]
    public async Task A_message_larger_than_a_datagram_fails_the_read(bool dialing, bool inFragments)
    {
        Open(dialing);
        if (inFragments)
        {
            await _peer!.SendAsync(new byte[40_000], WebSocketMessageType.Binary, endOfMessage: false, _timeout.Token);
            await _peer.SendAsync(new byte[30_000], WebSocketMessageType.Binary, endOfMessage: true, _timeout.Token);
        }
        else await _peer!.SendAsync(new byte[65_536], WebSocketMessageType.Binary, endOfMessage: true, _timeout.Token);

        var failure = await Assert.ThrowsAsync<IOException>(async () => await ReadToEndAsync());
        Assert.Contains("longer than 65535 bytes", failure.Message);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Its_close_reaches_the_far_end_as_a_normal_closure(bool dialing)
    {
        Open(dialing);
        await _frames!.WriteAsync(Frame([1, 2, 3]), _timeout.Token);
        await _frames.ShutdownOutputAsync();

        Assert.Equal([1, 2, 3], await ReceiveMessageAsync());
        var end = await _peer!.ReceiveAsync(new byte[16], _timeout.Token);
        Assert.Equal(WebSocketMessageType.Close, end.MessageType);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, _peer.CloseStatus);
    }

    [Fact]
    public async Task A_ping_is_answered_with_its_payload_and_an_idle_connection_is_pinged()
    {
        // The listening end, spoken to in raw bytes: a dialer's frames are masked.
        _frames = new MessageStream(new NetworkStream(_left, ownsSocket: false), client: false, TimeSpan.FromMilliseconds(200));
        var reading = ReadToEndAsync();
        await _right.SendAsync(Masked(0x89, "hi"u8.ToArray()));

        // The pong, with the ping's payload; and, nothing being written for a ping interval, a ping (unmasked, empty).
        var frames = new List<string>();
        while (!(frames.Contains("8A:hi") && frames.Contains("89:")))
        {
            var header = await ReceiveRawAsync(2);
            Assert.True(header[1] < 126, "a control frame from the listening end: short and unmasked");
            frames.Add($"{header[0]:X2}:{System.Text.Encoding.ASCII.GetString(await ReceiveRawAsync(header[1]))}");
        }
        Assert.All(frames, frame => Assert.True(frame is "8A:hi" or "89:", frame));

        await _right.SendAsync(Masked(0x88, [0x03, 0xE8]));
        Assert.Empty((await reading).Received);
    }

    [Fact]
    public async Task A_pong_due_while_a_frame_is_half_written_follows_that_frame_not_inside_it()
    {
        _frames = new MessageStream(new NetworkStream(_left, ownsSocket: false), client: false, TimeSpan.Zero);
        // The stage's write ends inside a frame: its header and one byte of four.
        await _frames.WriteAsync(new byte[] { 0, 4, 1 }, _timeout.Token);
        Assert.Equal(new byte[] { 0x82, 4, 1 }, await ReceiveRawAsync(3));
        // A ping, then a message: once the message is read, the ping has been taken and its pong was due.
        await _right.SendAsync(Masked(0x89, "p"u8.ToArray()).Concat(Masked(0x82, [7])).ToArray());
        var buffer = new byte[64];
        Assert.Equal(new byte[] { 0, 1, 7 }, buffer[..await _frames.ReadAsync(buffer, _timeout.Token)]);

        await _frames.WriteAsync(new byte[] { 2, 3, 4 }, _timeout.Token);
        Assert.Equal(new byte[] { 2, 3, 4, 0x8A, 1, (byte)'p' }, await ReceiveRawAsync(6));
    }

    [Fact]
    public async Task A_listening_end_that_pings_and_ends_a_connection_whose_pong_is_late_keeps_the_dialers()
    {
        // .NET's WebSocket as the listening end, pinging every 100 ms and aborting when a pong is a second late.
        var deadline = TimeSpan.FromSeconds(1);
        _frames = new MessageStream(new NetworkStream(_left, ownsSocket: false), client: true, TimeSpan.Zero);
        _peer = WebSocket.CreateFromStream(new NetworkStream(_right, ownsSocket: false),
            new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.FromMilliseconds(100), KeepAliveTimeout = deadline });
        var reading = ReadToEndAsync();
        var receiving = ReceiveMessageAsync();

        // Idle for twice the deadline: the connection stays only if every ping was answered.
        await Task.Delay(deadline * 2);
        Assert.False(receiving.IsCompleted, $"the listening end gave up: {receiving.Exception?.InnerException?.Message}");
        await _frames.WriteAsync(Frame([9, 9]), _timeout.Token);
        Assert.Equal([9, 9], await receiving);
        Assert.Equal(WebSocketState.Open, _peer.State);

        await _peer.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, _timeout.Token);
        Assert.Empty((await reading).Received);
    }

    public static TheoryData<string, byte[], string> Forbidden() => new()
    {
        { "unmasked", [0x82, 0x01, 0x00], "an unmasked frame from the dialing end" },
        { "text", Masked(0x81, "hi"u8.ToArray()), "a text message" },
        { "reserved bits", Masked(0xC2, [1]), "reserved bits" },
        { "continuation first", Masked(0x80, [1]), "a continuation frame without a message" },
        { "unknown opcode", Masked(0x83, [1]), "unknown opcode 3" },
        { "ping in fragments", Masked(0x09, [1]), "a control frame in fragments" },
        { "new message inside one", [.. Masked(0x02, [1]), .. Masked(0x82, [1])], "a new message before the last one's final fragment" },
    };

    [Theory]
    [MemberData(nameof(Forbidden))]
    public async Task A_frame_the_protocol_forbids_fails_the_read_naming_it(string frame, byte[] bytes, string named)
    {
        _frames = new MessageStream(new NetworkStream(_left, ownsSocket: false), client: false, TimeSpan.Zero);
        await _right.SendAsync(bytes);

        var failure = await Assert.ThrowsAsync<IOException>(async () => await ReadToEndAsync());
        Assert.True(failure.Message.Contains(named), $"{frame}: {failure.Message}");
    }

    [Fact]
    public async Task The_dialing_end_refuses_a_masked_frame()
    {
        _frames = new MessageStream(new NetworkStream(_left, ownsSocket: false), client: true, TimeSpan.Zero);
        await _right.SendAsync(Masked(0x82, [1]));

        var failure = await Assert.ThrowsAsync<IOException>(async () => await ReadToEndAsync());
        Assert.Contains("a masked frame from the listening end", failure.Message);
    }

    /// <summary>A final frame of <paramref name="first"/> (FIN, RSV and opcode), masked with a random key.</summary>
    private static byte[] Masked(byte first, byte[] payload)
    {
        var key = RandomNumberGenerator.GetBytes(4);
        return [first, (byte)(0x80 | payload.Length), .. key, .. payload.Select((b, i) => (byte)(b ^ key[i % 4]))];
    }

    private async Task<(List<byte> Received, int Reads)> ReadToEndAsync()
    {
        var received = new List<byte>();
        var reads = 0;
        var buffer = new byte[16 * 1024];
        int count;
        while ((count = await _frames!.ReadAsync(buffer, _timeout.Token)) > 0)
        {
            received.AddRange(buffer.AsSpan(0, count).ToArray());
            reads++;
        }
        return (received, reads);
    }

    private async Task<byte[]> ReceiveRawAsync(int count)
    {
        var bytes = new byte[count];
        for (var at = 0; at < count;)
        {
            var read = await _right.ReceiveAsync(bytes.AsMemory(at), _timeout.Token);
            if (read == 0) throw new IOException("closed");
            at += read;
        }
        return bytes;
    }

    private async Task<byte[]> ReceiveMessageAsync()
    {
        var buffer = new byte[70_000];
        var length = 0;
        ValueWebSocketReceiveResult part;
        do
        {
            part = await _peer!.ReceiveAsync(buffer.AsMemory(length), _timeout.Token);
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
        _frames?.Dispose();
        _peer?.Dispose();
        _left.Dispose();
        _right.Dispose();
        _timeout.Dispose();
        return Task.CompletedTask;
    }
}
