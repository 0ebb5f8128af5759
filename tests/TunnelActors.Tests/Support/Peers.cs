using System.Net;
using System.Net.Sockets;

namespace TunnelActors.Tests.Support;

/// <summary>
/// Phantom-port clients: each its own UDP socket on an ephemeral port, sending datagrams one at a time and
/// checking that each echo comes back, intact, to the socket that sent it, from the tunnel endpoint it was sent to.
/// </summary>
public static class Peers
{
    public static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Runs <paramref name="count"/> peers at once, on loopback or on address <paramref name="from"/>; returns one line
    /// per failure (empty = all good).
    /// </summary>
    public static async Task<IReadOnlyList<string>> EchoAsync(IPEndPoint tunnel, int count, IReadOnlyList<int> sizes, int rounds = 1, IPAddress? from = null)
    {
        var results = await Task.WhenAll(Enumerable.Range(0, count).Select(id => EchoOneAsync(tunnel, id, sizes, rounds, from)));
        return results.Where(r => r is not null).Select(r => r!).ToList();
    }

    /// <summary>
    /// Runs peers one after another. For datagrams near 64 KiB: a few of those arriving at once overflow a
    /// socket's default kernel receive buffer (about 208 KiB), which is UDP, not the relay, losing them.
    /// </summary>
    public static async Task<IReadOnlyList<string>> EchoInTurnAsync(IPEndPoint tunnel, int count, IReadOnlyList<int> sizes)
    {
        var failures = new List<string>();
        for (var id = 0; id < count; id++)
            if (await EchoOneAsync(tunnel, id, sizes, 1, null) is { } failure) failures.Add(failure);
        return failures;
    }

    private static async Task<string?> EchoOneAsync(IPEndPoint tunnel, int id, IReadOnlyList<int> sizes, int rounds, IPAddress? from)
    {
        using var socket = from is null ? Bind(tunnel.AddressFamily) : new Socket(from.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        if (from is not null) socket.Bind(new IPEndPoint(from, 0));
        var buffer = new byte[65536];
        var random = new Random(id);
        for (var round = 0; round < rounds; round++)
        foreach (var size in sizes)
        {
            var payload = new byte[size];
            random.NextBytes(payload);
            if (size >= 4) BitConverter.TryWriteBytes(payload, id);
            await socket.SendToAsync(payload, tunnel);
            var reply = await ReceiveFromAsync(socket, buffer, ReplyTimeout);
            if (reply is not var (length, source)) return $"peer {id}: no echo for a {size}-byte datagram";
            // The peer's application answers only the address it sent to: a reply from anywhere else is lost to it.
            if (!source.Equals(tunnel)) return $"peer {id}: the echo of a {size}-byte datagram came from {source}, not the tunnel endpoint {tunnel}";
            if (!buffer.AsSpan(0, length).SequenceEqual(payload))
                return $"peer {id}: the echo of a {size}-byte datagram came back as {length} different bytes";
        }
        return null;
    }

    public static Socket Bind(AddressFamily family)
    {
        var socket = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback, 0));
        return socket;
    }

    /// <summary>
    /// The length of the next datagram, or null when none arrived in time; fails the test if it came from anywhere but
    /// <paramref name="from"/> (the tunnel endpoint the peer sent to, which is the only address its application answers).
    /// </summary>
    public static async Task<int?> ReceiveAsync(Socket socket, byte[] buffer, TimeSpan timeout, IPEndPoint from)
    {
        if (await ReceiveFromAsync(socket, buffer, timeout) is not var (length, source)) return null;
        if (!source.Equals(from)) throw new Xunit.Sdk.XunitException($"a {length}-byte datagram came from {source}, not from {from}");
        return length;
    }

    /// <summary>The length and source of the next datagram, or null when none arrived in time.</summary>
    public static async Task<(int Length, IPEndPoint Source)?> ReceiveFromAsync(Socket socket, byte[] buffer, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            var any = socket.AddressFamily == AddressFamily.InterNetworkV6 ? new IPEndPoint(IPAddress.IPv6Any, 0) : new IPEndPoint(IPAddress.Any, 0);
            var result = await socket.ReceiveFromAsync(buffer, SocketFlags.None, any, cancel.Token);
            return (result.ReceivedBytes, (IPEndPoint)result.RemoteEndPoint);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }
}
