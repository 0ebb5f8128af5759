using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace TunnelActors.Tests.Support;

/// <summary>
/// The forward side's target: a UDP server that records every source address a datagram came from (a
/// forward socket each) and echoes the datagrams <c>answers</c> accepts. A real target such as a WireGuard
/// server answers only what it recognises: spoofed traffic gets no reply.
/// </summary>
public sealed class UdpTarget : IDisposable
{
    private readonly Socket _socket;
    private readonly Func<ReadOnlyMemory<byte>, bool> _answers;
    private readonly ConcurrentDictionary<IPEndPoint, int> _sources = new();
    private readonly ConcurrentQueue<(IPEndPoint Source, byte[] Head, long Timestamp)> _arrivals = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _received;

    public UdpTarget(Func<ReadOnlyMemory<byte>, bool>? answers = null, IPAddress? address = null)
    {
        _answers = answers ?? (_ => true);
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        _socket.Bind(new IPEndPoint(address ?? IPAddress.Loopback, 0));
        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        _loop = Task.Run(LoopAsync);
    }

    public IPEndPoint LocalEndPoint { get; }

    public long Received => Interlocked.Read(ref _received);

    /// <summary>Every address:port a datagram came from, with how many came from it.</summary>
    public IReadOnlyDictionary<IPEndPoint, int> Sources => new Dictionary<IPEndPoint, int>(_sources);

    /// <summary>Where each datagram came from, with its first bytes (up to four) and when it was read (<see cref="System.Diagnostics.Stopwatch"/> ticks), in the order they arrived.</summary>
    public IReadOnlyList<(IPEndPoint Source, byte[] Head, long Timestamp)> Arrivals => [.. _arrivals];

    /// <summary>The distinct sources of the datagrams that start with <paramref name="head"/>.</summary>
    public IReadOnlySet<IPEndPoint> SourcesOf(params byte[] head) =>
        _arrivals.Where(a => a.Head.AsSpan().StartsWith(head)).Select(a => a.Source).ToHashSet();

    private async Task LoopAsync()
    {
        var buffer = new byte[65536];
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
                var from = (IPEndPoint)received.RemoteEndPoint;
                _sources.AddOrUpdate(from, 1, (_, n) => n + 1);
                _arrivals.Enqueue((from, buffer[..Math.Min(4, received.ReceivedBytes)], System.Diagnostics.Stopwatch.GetTimestamp()));
                Interlocked.Increment(ref _received);
                var datagram = buffer.AsMemory(0, received.ReceivedBytes);
                if (_answers(datagram)) await _socket.SendToAsync(datagram, SocketFlags.None, from, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (SocketException)
            {
                // An ICMP port-unreachable from a forward socket that is gone: keep serving.
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        try { _loop.Wait(TimeSpan.FromSeconds(2)); } catch (AggregateException) { }
        _stop.Dispose();
    }
}
