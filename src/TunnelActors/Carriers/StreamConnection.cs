using System.Buffers;
using System.Net.Security;
using System.Net.Sockets;
using Akka.Actor;
using Akka.IO;

namespace TunnelActors.Carriers;

/// <summary>
/// One tunnel connection over a stream (TLS, a WebSocket, a socket through an HTTP proxy) that speaks Akka.IO's connection protocol, the part a
/// <c>FramingStage</c> uses: <c>Register</c>, <c>ResumeReading</c> (pull mode: one read per request), <c>Write</c>
/// with its acknowledgement, <c>Close</c>, <c>ConfirmedClose</c>, <c>Abort</c>; and back <c>Received</c>,
/// <c>PeerClosed</c>, <c>Closed</c>, <c>ConfirmedClosed</c>, <c>Aborted</c>, <c>ErrorClosed</c>. So the stage does not
/// know which carrier it runs on. An accepted connection opens its carrier (the server's TLS handshake, the WebSocket
/// upgrade) once its handler has registered, that is once the acceptor has admitted it (a refused one is aborted
/// before the far side could send anything through it), within <c>auth.handshake-timeout</c> of being accepted; what
/// is asked of it meanwhile waits. It ends one way, <see cref="End"/>; one that ends before its carrier opened and
/// can be refused the carrier's way (a web server's 404) is handed to that refusal.
/// </summary>
internal sealed class StreamConnection : UntypedActor, IWithTimers
{
    /// <summary>Writes a connection holds beyond the one being written: the stage keeps one in flight, the handshake adds a few.</summary>
    private const int MaxQueuedWrites = 16;

    /// <summary>The most one read takes: a TLS record's plaintext.</summary>
    private const int ReadSize = 16 * 1024;

    private sealed record ReadDone(int Count, byte[] Buffer, Exception? Error);

    private sealed record WriteDone(Exception? Error);

    private sealed record HandshakeDone(Stream? Stream, Exception? Error);

    private sealed record ShutdownDone(Exception? Error);

    private sealed class HandshakeDeadline { public static readonly HandshakeDeadline Instance = new(); }

    private readonly Socket _socket;
    private Stream? _stream;
    private readonly Func<CancellationToken, Task<Stream>>? _open;
    private readonly TimeSpan _handshakeTimeout;
    private readonly Queue<(Tcp.Write Write, IActorRef Sender)> _writes = new();
    private readonly CancellationTokenSource _cancel = new();
    private IActorRef _handler = ActorRefs.Nobody;
    private bool _reading;
    private bool _readWanted;
    private bool _writing;
    // What the handler asked to end it with, once the writes before it are out.
    private Tcp.CloseCommand? _closing;
    private IActorRef _closeCommander = ActorRefs.Nobody;
    private bool _finSent;
    // The socket went to the website, or to a web server's answer (IRefusable), which closes it.
    private bool _handedOff;
    // This side has written to the far side (the listener: its answer to a valid proof).
    private bool _wrote;
    // When an accepted connection's handshake deadline falls (Environment.TickCount64).
    private long _deadline;

    /// <param name="stream">The connection's stream, open; null when <paramref name="open"/> makes it.</param>
    /// <param name="open">For an accepted connection: opens its carrier (TLS's handshake, the WebSocket upgrade) on the socket.</param>
    public StreamConnection(Socket socket, Stream? stream, Func<CancellationToken, Task<Stream>>? open, TimeSpan handshakeTimeout)
    {
        _socket = socket;
        _stream = stream;
        _open = open;
        _handshakeTimeout = handshakeTimeout;
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(Socket socket, Stream? stream, Func<CancellationToken, Task<Stream>>? open, TimeSpan handshakeTimeout) =>
        Akka.Actor.Props.Create(() => new StreamConnection(socket, stream, open, handshakeTimeout));

    // A connection nobody registers (its dialer stopped meanwhile, or an acceptor lost it) is not kept: Akka.IO's have a
    // register timeout too.
    protected override void PreStart()
    {
        _deadline = Environment.TickCount64 + (long)_handshakeTimeout.TotalMilliseconds;
        Timers.StartSingleTimer(HandshakeDeadline.Instance, HandshakeDeadline.Instance, _handshakeTimeout);
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Tcp.Register register:
                _handler = register.Handler;
                Context.Watch(_handler);
                if (_stream is null && _open is { } open)
                    open(_cancel.Token).PipeTo(Self, Self, stream => new HandshakeDone(stream, null), e => new HandshakeDone(null, e));
                else Timers.Cancel(HandshakeDeadline.Instance);
                break;
            case HandshakeDone { Stream: { } opened }:
                Timers.Cancel(HandshakeDeadline.Instance);
                _stream = opened;
                Pump();
                break;
            case HandshakeDone failed:
                _handedOff = failed.Error is WebSocketAccept.Refused { SocketTaken: true };
                End(new Tcp.ErrorClosed($"the carrier did not open: {Reason(failed.Error)}"));
                break;
            case HandshakeDeadline:
                End(new Tcp.ErrorClosed(_handler.IsNobody()
                    ? $"nobody took the connection within {_handshakeTimeout.TotalSeconds:0.#} s"
                    : $"the carrier (TLS, WebSocket) did not open within {_handshakeTimeout.TotalSeconds:0.#} s (auth.handshake-timeout)"), abort: true);
                break;
            case Tcp.ResumeReading:
                _readWanted = true;
                Pump();
                break;
            case Tcp.SuspendReading:
                _readWanted = false;
                break;
            case Tcp.Write write:
                if (_closing is not null || _writes.Count >= MaxQueuedWrites)
                {
                    Sender.Tell(new Tcp.CommandFailed(write));
                    break;
                }
                _writes.Enqueue((write, Sender));
                Pump();
                break;
            case ReadDone read:
                OnRead(read);
                break;
            case WriteDone { Error: { } error }:
                End(new Tcp.ErrorClosed($"write failed: {Reason(error)}"));
                break;
            case WriteDone:
                _writing = false;
                _wrote = true;
                var (done, commander) = _writes.Dequeue();
                if (done.WantsAck) commander.Tell(done.Ack);
                Pump();
                break;
            case Tcp.Abort:
                _closeCommander = Sender;
                End(Tcp.Aborted.Instance, abort: true);
                break;
            case Tcp.Close or Tcp.ConfirmedClose:
                _closing ??= (Tcp.CloseCommand)message;
                _closeCommander = Sender;
                Pump();
                break;
            case ShutdownDone shutdown:
                OnShutdown(shutdown);
                break;
            case Terminated t when t.ActorRef.Equals(_handler):
                End(Tcp.Aborted.Instance, abort: true);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>Starts what can start: the next write, a read the handler asked for, and the close once the writes are out.</summary>
    private void Pump()
    {
        if (_stream is null) return;
        if (!_writing && _writes.TryPeek(out var next))
        {
            _writing = true;
            var data = next.Write.Data;
            var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(1, data.Count));
            data.ToReadOnlySpan().CopyTo(buffer);
            WriteAsync(buffer, data.Count).PipeTo(Self, Self, () => new WriteDone(null), e => new WriteDone(e));
        }
        // A confirmed close reads on to the far side's FIN whether asked or not, as Akka.IO's does.
        if (!_reading && (_readWanted || _finSent))
        {
            _reading = true;
            _readWanted = false;
            var buffer = ArrayPool<byte>.Shared.Rent(ReadSize);
            _stream.ReadAsync(buffer.AsMemory(0, ReadSize), _cancel.Token).AsTask()
                .PipeTo(Self, Self, n => new ReadDone(n, buffer, null), e => new ReadDone(0, buffer, e));
        }
        if (_closing is not null && !_writing && _writes.Count == 0 && !_finSent)
        {
            _finSent = true;
            ShutdownAsync().PipeTo(Self, Self, () => new ShutdownDone(null), e => new ShutdownDone(e));
        }
    }

    private async Task WriteAsync(byte[] buffer, int count)
    {
        try
        {
            await _stream!.WriteAsync(buffer.AsMemory(0, count), _cancel.Token);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The carrier's own end (a WebSocket's close, TLS's close_notify), then FIN.</summary>
    private async Task ShutdownAsync()
    {
        if (_stream is IOutputShutdown carrier) await carrier.ShutdownOutputAsync();
        else if (_stream is SslStream tls) await tls.ShutdownAsync();
        _socket.Shutdown(SocketShutdown.Send);
    }

    private void OnRead(ReadDone read)
    {
        _reading = false;
        try
        {
            if (read.Error is { } error)
            {
                End(new Tcp.ErrorClosed($"read failed: {Reason(error)}"));
                return;
            }
            if (read.Count == 0)
            {
                if (_closing is Tcp.ConfirmedClose && _finSent) End(Tcp.ConfirmedClosed.Instance);
                else End(Tcp.PeerClosed.Instance);
                return;
            }
            _handler.Tell(new Tcp.Received(ByteString.CopyFrom(read.Buffer, 0, read.Count)));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(read.Buffer);
        }
        Pump();
    }

    private void OnShutdown(ShutdownDone shutdown)
    {
        if (shutdown.Error is { } error) End(new Tcp.ErrorClosed($"close failed: {Reason(error)}"));
        else if (_closing is Tcp.Close) End(Tcp.Closed.Instance);
        else Pump();
    }

    /// <summary>
    /// The one way a connection ends: the handler (and whoever asked to close it) hears why, the socket goes, the actor
    /// stops. An accepted connection its handler turned away before this side said anything (a stranger's proof failed),
    /// and that nobody takes over, stays silent until its handshake deadline and is closed then, as a server that waits
    /// for more would: a prober learns nothing from when it is closed.
    /// </summary>
    private void End(Tcp.ConnectionClosed how, bool abort = false)
    {
        _handedOff |= _stream is IRefusable refusable && refusable.TryRefuse();
        var stranger = _open is not null && _stream is not null && !_wrote && !_handedOff && how is Tcp.Aborted or Tcp.Closed;
        if (abort && !_handedOff && !stranger) _socket.LingerState = new LingerOption(true, 0);
        _handler.Tell(how);
        if (!_closeCommander.Equals(_handler) && !_closeCommander.IsNobody()) _closeCommander.Tell(how);
        var left = _deadline - Environment.TickCount64;
        if (!stranger || left <= 0)
        {
            Context.Stop(Self);
            return;
        }
        Timers.StartSingleTimer(HandshakeDeadline.Instance, HandshakeDeadline.Instance, TimeSpan.FromMilliseconds(left));
        Become(Silent);
    }

    /// <summary>Turned away, saying nothing, until the handshake deadline or the far side leaves.</summary>
    private void Silent(object message)
    {
        switch (message)
        {
            case HandshakeDeadline:
                Context.Stop(Self);
                break;
            case ReadDone read:
                ArrayPool<byte>.Shared.Return(read.Buffer);
                if (read.Count == 0 || read.Error is not null) Context.Stop(Self);
                break;
        }
    }

    private static string Reason(Exception? e) => e switch
    {
        null => "no reason given",
        AggregateException { InnerException: { } inner } => Reason(inner),
        WebSocketAccept.Refused => e.Message,
        { InnerException: { } inner } when e is IOException or System.Security.Authentication.AuthenticationException => $"{e.Message} ({Reason(inner)})",
        _ => e.Message,
    };

    protected override void PostStop()
    {
        _cancel.Cancel();
        _stream?.Dispose();
        if (!_handedOff) _socket.Dispose();
        _cancel.Dispose();
    }
}
