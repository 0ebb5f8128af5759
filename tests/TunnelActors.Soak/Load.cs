using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace TunnelActors.Soak;

/// <summary>
/// Phantom peers sending numbered datagrams at a steady rate through the NAT side to the echo, each recording
/// when it sent every datagram and which came back.
/// </summary>
internal sealed class Peer : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly IPEndPoint _tunnel;
    private readonly List<long> _sentAt = [];
    private readonly HashSet<int> _echoed = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _receiving;

    public Peer(IPEndPoint tunnel)
    {
        _tunnel = tunnel;
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _receiving = Task.Run(ReceiveAsync);
    }

    public void Send()
    {
        int seq;
        lock (_sentAt)
        {
            seq = _sentAt.Count;
            _sentAt.Add(Stopwatch.GetTimestamp());
        }
        try { _socket.SendTo(BitConverter.GetBytes(seq), _tunnel); }
        catch (SocketException) { } // port unreachable reported from an earlier send while the side restarts: UDP
    }

    /// <summary>Every datagram sent: when, and whether its echo came back.</summary>
    public IEnumerable<(long SentAt, bool Echoed)> Outcomes()
    {
        lock (_sentAt)
        lock (_echoed)
            return _sentAt.Select((at, seq) => (at, _echoed.Contains(seq))).ToList();
    }

    private async Task ReceiveAsync()
    {
        var buffer = new byte[64];
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var result = await _socket.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
                if (result.ReceivedBytes == 4)
                    lock (_echoed) _echoed.Add(BitConverter.ToInt32(buffer));
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
    }
}

/// <summary>The steady load: <c>peers</c> peers, each sending <c>perPeer</c> datagrams a second, on one thread.</summary>
internal sealed class SteadyLoad : IDisposable
{
    private readonly List<Peer> _peers;
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private readonly TimeSpan _tick;

    public SteadyLoad(IPEndPoint tunnel, int peers, int perPeer)
    {
        _peers = Enumerable.Range(0, peers).Select(_ => new Peer(tunnel)).ToList();
        _tick = TimeSpan.FromSeconds(1.0 / perPeer);
        _thread = new Thread(Run) { IsBackground = true, Name = "soak load" };
        _thread.Start();
    }

    public IReadOnlyList<Peer> Peers => _peers;

    private void Run()
    {
        var next = Stopwatch.GetTimestamp();
        while (!_stop.IsCancellationRequested)
        {
            foreach (var peer in _peers) peer.Send();
            next += (long)(_tick.TotalSeconds * Stopwatch.Frequency);
            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), next);
            if (wait > TimeSpan.Zero) _stop.Token.WaitHandle.WaitOne(wait);
        }
    }

    public void StopSending()
    {
        _stop.Cancel();
        _thread.Join();
    }

    public void Dispose()
    {
        StopSending();
        foreach (var peer in _peers) peer.Dispose();
    }
}
