using System.Net;
using System.Net.Sockets;

namespace TunnelActors.Tests.Support;

/// <summary>The test's own ends of TCP connections: accepting one, opening one from a chosen address, reading one until it is closed.</summary>
public static class Connections
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    /// <summary>How the other end closed a connection: what it sent before, and whether it reset the connection rather than sending a FIN.</summary>
    public sealed record Closed(byte[] Received, bool Reset);

    /// <summary>The next connection <paramref name="listener"/> accepts; a <see cref="TimeoutException"/> when none comes in time.</summary>
    public static async Task<TcpClient> AcceptAsync(TcpListener listener, TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? Wait);
        try
        {
            return await listener.AcceptTcpClientAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no connection to {listener.LocalEndpoint} within {timeout ?? Wait}");
        }
    }

    /// <summary>Both ends of a new loopback connection: the one that connected, and the one accepted.</summary>
    public static async Task<(Socket Connected, Socket Accepted)> LoopbackPairAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var connected = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await connected.ConnectAsync(listener.LocalEndPoint!);
        return (connected, await listener.AcceptAsync());
    }

    /// <summary>A connection from <paramref name="from"/> (a loopback address of the test's) to <paramref name="to"/>, or null when it was refused while being made.</summary>
    public static async Task<TcpClient?> TryConnectFromAsync(IPAddress from, IPEndPoint to)
    {
        var client = new TcpClient(new IPEndPoint(from, 0));
        try
        {
            await client.ConnectAsync(to);
            return client;
        }
        catch (SocketException)
        {
            client.Dispose();
            return null;
        }
    }

    /// <summary>
    /// Reads until the other end closes the connection (a FIN or a reset); a <see cref="TimeoutException"/> when it is
    /// still open after <paramref name="timeout"/>.
    /// </summary>
    public static Task<Closed> ReadUntilClosedAsync(TcpClient client, TimeSpan? timeout = null) => ReadUntilClosedAsync(client.Client, timeout);

    public static async Task<Closed> ReadUntilClosedAsync(Socket socket, TimeSpan? timeout = null)
    {
        var buffer = new byte[4096];
        var received = new MemoryStream();
        using var cancel = new CancellationTokenSource(timeout ?? Wait);
        try
        {
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancel.Token)) > 0) received.Write(buffer, 0, read);
            return new Closed(received.ToArray(), Reset: false);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
        {
            return new Closed(received.ToArray(), Reset: true);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"the connection from {socket.LocalEndPoint} to {socket.RemoteEndPoint} was still open after {timeout ?? Wait} ({received.Length} bytes read)");
        }
    }
}
