using System.Net;
using System.Net.Sockets;

namespace TunnelActors.Tools.Demo;

/// <summary>A UDP echo server on a plain socket: the demo's target, and the tests'.</summary>
public sealed class UdpEcho : IDisposable
{
    private readonly Socket _socket;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _echoed;

    /// <param name="receiveBuffer">The socket's kernel receive buffer; 0 = the system default, which a burst from many peers at once overflows.</param>
    public UdpEcho(IPEndPoint bind, int receiveBuffer = 0)
    {
        _socket = new Socket(bind.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        if (receiveBuffer > 0) _socket.ReceiveBufferSize = receiveBuffer;
        _socket.Bind(bind);
        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        _loop = Task.Run(LoopAsync);
    }

    public IPEndPoint LocalEndPoint { get; }

    public long Echoed => Interlocked.Read(ref _echoed);

    private async Task LoopAsync()
    {
        var buffer = new byte[65536];
        EndPoint any = LocalEndPoint.AddressFamily == AddressFamily.InterNetworkV6
            ? new IPEndPoint(IPAddress.IPv6Any, 0)
            : new IPEndPoint(IPAddress.Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, _stop.Token);
                await _socket.SendToAsync(buffer.AsMemory(0, received.ReceivedBytes), SocketFlags.None, received.RemoteEndPoint, _stop.Token);
                Interlocked.Increment(ref _echoed);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (SocketException)
            {
                // An ICMP port-unreachable from a peer that left: keep serving the others.
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
