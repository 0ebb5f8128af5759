using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using TunnelActors.Carriers;
using TunnelActors.Configuration;
using TunnelActors.Tests.Support;
using Xunit;

namespace TunnelActors.Tests.Carriers;

/// <summary>
/// The WebSocket written here against an implementation that shares no code with it or with .NET: Debian's
/// python3-websockets (strict about RFC 6455: masking by role, reserved bits, control frames, close codes). Our dialer
/// (upgrade and frames) against its server, which echoes every message and pings every 200 ms, closing a connection
/// whose pong is a second late; its client against our listener, which echoes what it reads.
/// </summary>
public sealed class PythonWebSocketTests : IDisposable
{
    private const string Python = "/usr/bin/python3";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly CancellationTokenSource _timeout = new(Wait);
    private readonly TempFile _script = new(Script);
    private Process? _python;

    // One program, two roles: "server" prints its port, then what each connection's close code was; "client PORT"
    // sends messages of the sizes given, in one piece and in fragments, checks each echo and a ping, and prints "ok".
    private const string Script = """
        import asyncio, sys, websockets

        async def echo(ws):
            try:
                async for message in ws:
                    await ws.send(message)
            finally:
                print(f"closed {ws.close_code}", flush=True)

        async def server():
            async with websockets.serve(echo, "127.0.0.1", 0, ping_interval=0.2, ping_timeout=1, max_size=2**20) as s:
                print(s.sockets[0].getsockname()[1], flush=True)
                await asyncio.Future()

        async def client(port, sizes):
            async with websockets.connect(f"ws://127.0.0.1:{port}/tunnel", ping_interval=None, max_size=2**20) as ws:
                for n in sizes:
                    payload = bytes((i * 7 + n) % 256 for i in range(n))
                    await ws.send(payload)
                    back = await ws.recv()
                    assert back == payload, f"{n} bytes came back as {len(back)}"
                await ws.send([b"ab", b"", b"cdef"])
                back = await ws.recv()
                assert back == b"abcdef", f"fragments came back as {back!r}"
                await asyncio.wait_for(await ws.ping(b"hi"), 2)
            print(f"ok {ws.close_code}", flush=True)

        if sys.argv[1] == "server":
            asyncio.run(server())
        else:
            asyncio.run(client(int(sys.argv[2]), [int(n) for n in sys.argv[3].split(",")]))
        """;

    private static readonly int[] Sizes = [0, 1, 125, 126, 1200, 65535, 7, 40000];

    public static bool Available => File.Exists(Python) && Command.RunAsync(TimeSpan.FromSeconds(20), Python, ["-c", "import websockets"]).Result.ExitCode == 0;

    [PythonWebSocketFact]
    public async Task Our_dialer_speaks_to_pythons_server_answers_its_pings_and_closes_with_1000()
    {
        _python = Command.Start(Python, [_script.Path, "server"]);
        var port = int.Parse(await ReadLineAsync());
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), _timeout.Token);
        var settings = new WebSocketSettings("/tunnel", $"127.0.0.1:{port}", 8192, TimeSpan.Zero, ProofInUpgrade: false);
        var (stream, _) = await WebSocketClient.UpgradeAsync(new SocketStream(socket), settings, null, _timeout.Token);

        // Every frame written in cuts of 3 bytes; each comes back whole as its own message.
        var frames = Frames.OfAll(Sizes.Select(Payload));
        for (var at = 0; at < frames.Length; at += 3)
            await stream.WriteAsync(frames.AsMemory(at, Math.Min(3, frames.Length - at)), _timeout.Token);
        Assert.Equal(frames, await ReadExactlyAsync(stream, frames.Length));

        // Idle past the server's pong deadline, a read waiting: its pings are answered, so the connection lives on.
        var last = Frames.Of(Payload(9));
        var waiting = ReadExactlyAsync(stream, last.Length);
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Assert.False(waiting.IsCompleted);
        await stream.WriteAsync(last, _timeout.Token);
        Assert.Equal(last, await waiting);

        await ((IOutputShutdown)stream).ShutdownOutputAsync();
        Assert.Equal("closed 1000", await ReadLineAsync());
    }

    [PythonWebSocketFact]
    public async Task Pythons_client_speaks_to_our_listener_in_messages_whole_and_in_fragments()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        var client = Command.RunAsync(Wait, Python, [_script.Path, "client", port.ToString(), string.Join(',', Sizes)]);

        using var socket = await listener.AcceptAsync(_timeout.Token);
        var settings = new WebSocketSettings("/tunnel", null, 8192, TimeSpan.Zero, ProofInUpgrade: false);
        var stream = await WebSocketAccept.OpenAsync(new SocketStream(socket), socket, settings, null, Wait, _timeout.Token);
        var echoing = EchoAsync(stream, socket);

        var outcome = await client;
        Assert.True(outcome.ExitCode == 0, outcome.Output);
        Assert.Equal("ok 1000", outcome.Stdout.Trim());
        await echoing;
    }

    private static byte[] Payload(int size) => Enumerable.Range(0, size).Select(i => (byte)((i * 7 + size) % 256)).ToArray();

    /// <summary>
    /// Writes back what it reads (RFC 4571 frames, so each message goes back as one) until the far side closes, then
    /// ends as a tunnel connection does: the close frame, then FIN.
    /// </summary>
    private async Task EchoAsync(Stream stream, Socket socket)
    {
        var buffer = new byte[70_000];
        int read;
        while ((read = await stream.ReadAsync(buffer, _timeout.Token)) > 0)
            await stream.WriteAsync(buffer.AsMemory(0, read), _timeout.Token);
        await ((IOutputShutdown)stream).ShutdownOutputAsync();
        socket.Shutdown(SocketShutdown.Send);
    }

    private async Task<byte[]> ReadExactlyAsync(Stream stream, int count)
    {
        var buffer = new byte[count];
        await stream.ReadExactlyAsync(buffer, _timeout.Token);
        return buffer;
    }

    private async Task<string> ReadLineAsync() =>
        await _python!.StandardOutput.ReadLineAsync(_timeout.Token) ?? throw new InvalidOperationException($"python3 ended: {await _python.StandardError.ReadToEndAsync()}");

    public void Dispose()
    {
        if (_python is { HasExited: false }) _python.Kill();
        _python?.Dispose();
        _script.Dispose();
        _timeout.Dispose();
    }
}

/// <summary>A fact that needs Debian's python3-websockets: skipped without it, except under CI, where it must run.</summary>
public sealed class PythonWebSocketFactAttribute : FactAttribute
{
    public PythonWebSocketFactAttribute()
    {
        if (!PythonWebSocketTests.Available && Environment.GetEnvironmentVariable("CI") != "true")
            Skip = "needs Debian's python3-websockets (apt-get install python3-websockets); CI installs it";
    }
}
