using System.Net;
using System.Net.Sockets;
using TunnelActors.Tools.Bench;

namespace TunnelActors.Tools.Bench.Echo;

/// <summary>
/// A UDP echo on one socket and one thread of its own: blocking receive, then the reply, so the only costs
/// per datagram are the two system calls. Faults are injected as <see cref="FaultInjector"/> decides.
/// </summary>
internal sealed class EchoServer : IDisposable
{
    private const int MaxDatagram = 65536;
    private readonly EchoOptions _options;
    private readonly Socket _socket;
    private readonly FaultInjector _faults;
    private readonly Thread _thread;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopping;
    private long _received, _sent, _bytes, _sendFailed;
    private bool _holding;

    public EchoServer(EchoOptions options)
    {
        _options = options;
        _faults = new FaultInjector(options.DropEvery, options.DuplicateEvery, options.CorruptEvery, options.SwapEvery);
        _socket = SocketSetup.Udp(options.Bind, reuseAddress: options.ReuseAddress);
        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        _thread = new Thread(Serve) { IsBackground = true, Name = "bench-echo" };
        _thread.Start();
    }

    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Completes when the echo stops, by <see cref="Stop"/> or because its socket failed.</summary>
    public Task Stopped => _stopped.Task;

    /// <summary>Stops serving; the totals are final once this returns.</summary>
    public EchoTotals Stop()
    {
        _stopping = true;
        _socket.Dispose(); // unblocks the receive
        _thread.Join();
        return new EchoTotals(_received, _sent, _bytes, _sendFailed,
            _faults.Dropped, _faults.Duplicated, _faults.Corrupted, _faults.Delayed, _holding);
    }

    public void Dispose() => Stop();

    private void Serve()
    {
        try
        {
            Loop();
        }
        finally
        {
            _stopped.TrySetResult();
        }
    }

    private void Loop()
    {
        var family = LocalEndPoint.AddressFamily;
        var buffer = new byte[MaxDatagram];
        var held = new byte[MaxDatagram];
        var source = new SocketAddress(family);
        var heldTo = new SocketAddress(family);
        var replyTo = _options.ReplyTo?.Serialize();
        var heldLength = 0;
        while (true)
        {
            int length;
            try
            {
                length = _socket.ReceiveFrom(buffer, SocketFlags.None, source);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (_stopping || e is ObjectDisposedException) return;
                continue; // an ICMP error reported on the socket: keep serving
            }
            _received++;
            _bytes += length;
            var to = replyTo ?? source;
            if (!_faults.Active)
            {
                Send(buffer.AsSpan(0, length), to);
                continue;
            }

            var fault = _faults.Next(length, canHold: !_holding);
            if (fault.HasFlag(FaultInjector.Fault.Drop)) continue;
            if (fault.HasFlag(FaultInjector.Fault.Corrupt)) buffer[length - 1] ^= 0x5A;
            if (fault.HasFlag(FaultInjector.Fault.Hold))
            {
                buffer.AsSpan(0, length).CopyTo(held);
                heldLength = length;
                to.Buffer.Span[..to.Size].CopyTo(heldTo.Buffer.Span);
                heldTo.Size = to.Size;
                _holding = true;
                continue;
            }
            Send(buffer.AsSpan(0, length), to);
            if (_holding)
            {
                Send(held.AsSpan(0, heldLength), heldTo);
                _holding = false;
            }
            if (fault.HasFlag(FaultInjector.Fault.Duplicate)) Send(buffer.AsSpan(0, length), to);
        }
    }

    private void Send(ReadOnlySpan<byte> datagram, SocketAddress to)
    {
        try
        {
            _socket.SendTo(datagram, SocketFlags.None, to);
            _sent++;
        }
        catch (SocketException)
        {
            _sendFailed++;
        }
    }
}
