using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace TunnelActors.Tests.Support;

/// <summary>
/// A phantom peer sending numbered datagrams through a tunnel to an echo, and recording which numbers came back from
/// the tunnel endpoint it sent them to (an echo from any other address is one its application would never see).
/// </summary>
public sealed class NumberedPeer : IDisposable
{
    private readonly Socket _socket = Peers.Bind(AddressFamily.InterNetwork);
    private readonly IPEndPoint _tunnel;
    private readonly ConcurrentDictionary<int, bool> _echoed = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _receiving;

    public NumberedPeer(IPEndPoint tunnel)
    {
        _tunnel = tunnel;
        _receiving = Task.Run(ReceiveAsync);
    }

    public async Task SendAsync(int first, int count)
    {
        for (var n = first; n < first + count; n++) await _socket.SendToAsync(BitConverter.GetBytes(n), _tunnel);
    }

    /// <summary>How many of the numbers <paramref name="first"/> … <paramref name="first"/> + <paramref name="count"/> - 1 came back.</summary>
    public int Received(int first, int count) => Enumerable.Range(first, count).Count(_echoed.ContainsKey);

    private async Task ReceiveAsync()
    {
        var buffer = new byte[64];
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var result = await _socket.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
                if (result.ReceivedBytes == 4 && result.RemoteEndPoint.Equals(_tunnel)) _echoed[BitConverter.ToInt32(buffer)] = true;
            }
            catch (OperationCanceledException) { return; }
            catch (SocketException) { }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _receiving.Wait(TimeSpan.FromSeconds(5));
        _socket.Dispose();
        _stop.Dispose();
    }
}
