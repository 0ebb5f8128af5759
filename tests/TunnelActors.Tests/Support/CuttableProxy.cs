using System.Net;
using System.Net.Sockets;
using TunnelActors.Transport;

namespace TunnelActors.Tests.Support;

/// <summary>
/// A TCP proxy on loopback between the two sides of a tunnel, so that a test can cut the tunnel's connections
/// (both ends reset, as a NAT box that forgot them or <c>ss -K</c> would) while both sides stay up.
/// </summary>
public sealed class CuttableProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<(Socket Inbound, Socket Outbound)> _pairs = [];
    private readonly Task _accepting;
    private int _accepted;

    public CuttableProxy(IPEndPoint target)
    {
        _target = target;
        _listener.Start();
        Endpoint = (IPEndPoint)_listener.LocalEndpoint;
        _accepting = Task.Run(AcceptAsync);
    }

    /// <summary>Where a side dials to reach the target through the proxy.</summary>
    public IPEndPoint Endpoint { get; }

    /// <summary>Connections the proxy has carried so far.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>Resets every connection it carries now (RST both ways); later connections pass as before.</summary>
    public int CutAll()
    {
        List<(Socket, Socket)> pairs;
        lock (_pairs)
        {
            pairs = [.. _pairs];
            _pairs.Clear();
        }
        foreach (var (inbound, outbound) in pairs)
        {
            Reset(inbound);
            Reset(outbound);
        }
        return pairs.Count;
    }

    private static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
            socket.Close();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket inbound;
            try
            {
                inbound = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            var outbound = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            inbound.NoDelay = true;
            try
            {
                await outbound.ConnectAsync(_target, _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException)
            {
                Reset(inbound);
                outbound.Dispose();
                continue;
            }
            Interlocked.Increment(ref _accepted);
            lock (_pairs) _pairs.Add((inbound, outbound));
            _ = PumpAsync(inbound, outbound);
            _ = PumpAsync(outbound, inbound);
        }
    }

    private async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[65536];
        try
        {
            int read;
            while ((read = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token)) > 0)
                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stop.Token);
            to.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            Reset(to);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        CutAll();
        try { await _accepting; } catch (OperationCanceledException) { }
        _stop.Dispose();
    }
}
