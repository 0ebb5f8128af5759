using System.Net;
using System.Net.Sockets;
using System.Globalization;

namespace TunnelActors.Tests.Support;

/// <summary>
/// Counts this machine's sockets bound to a local port, from the kernel's own tables (/proc/net), so that a
/// socket leaked by a restarted actor shows up even when the port could be bound again.
/// </summary>
public static class BoundSockets
{
    public static int Udp(int port) => UdpInodes(port).Count;

    public static int TcpListeners(int port) => TcpListenerInodes(port).Count;

    /// <summary>UDP sockets bound to this IPv4 address, any port: a side whose forward sockets bind there (<c>udp.forward-bind</c>) has exactly these.</summary>
    public static int UdpOn(IPAddress address)
    {
        var hex = Convert.ToHexString(address.GetAddressBytes().Reverse().ToArray());
        return File.ReadLines("/proc/net/udp").Skip(1)
            .Count(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1].StartsWith(hex + ":", StringComparison.Ordinal));
    }

    /// <summary>
    /// Datagrams the kernel dropped for the UDP sockets bound to <paramref name="port"/> in process <paramref name="pid"/>'s
    /// network namespace (a receive buffer full, mostly): those sockets' own counts, the last column of their rows (a
    /// UDP-listen side has one socket per receive thread on its port), whatever other programs' sockets drop.
    /// </summary>
    public static long UdpSocketDrops(int pid, int port)
    {
        var rows = File.ReadLines($"/proc/{pid}/net/udp").Skip(1).Concat(File.ReadLines($"/proc/{pid}/net/udp6").Skip(1))
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => PortOf(f[1]) == port).ToList();
        if (rows.Count == 0) throw new InvalidOperationException($"no UDP socket on port {port} in the namespace of process {pid}");
        return rows.Sum(row => long.Parse(row[^1]));
    }

    /// <summary>The kernel's identities of the UDP sockets bound to the port: a new socket has a new inode.</summary>
    public static IReadOnlyList<string> UdpInodes(int port) => Inodes(port, "udp", "udp6", listeningOnly: false);

    public static IReadOnlyList<string> TcpListenerInodes(int port) => Inodes(port, "tcp", "tcp6", listeningOnly: true);

    private static List<string> Inodes(int port, string v4, string v6, bool listeningOnly) =>
        new[] { v4, v6 }.SelectMany(table => InodesIn($"/proc/net/{table}", port, listeningOnly)).ToList();

    /// <summary>Whether a socket table (such as another namespace's /proc/PID/net/udp) has the port bound.</summary>
    public static bool InTable(string path, int port, bool listeningOnly) => InodesIn(path, port, listeningOnly).Any();

    /// <summary>Whether a TCP table has an established connection to the remote port.</summary>
    public static bool ConnectedTo(string path, int remotePort)
    {
        const string established = "01";
        return File.Exists(path) && File.ReadLines(path).Skip(1)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Any(f => f[3] == established && int.Parse(f[2][(f[2].LastIndexOf(':') + 1)..], NumberStyles.HexNumber) == remotePort);
    }

    /// <summary>Established connections to or from a local port whose keepalive timer is armed.</summary>
    public static (int Accepted, int Dialed) KeepAliveTimers(int port)
    {
        const string established = "01", keepAliveTimer = "02";
        int accepted = 0, dialed = 0;
        foreach (var line in new[] { "/proc/net/tcp", "/proc/net/tcp6" }.Where(File.Exists).SelectMany(p => File.ReadLines(p).Skip(1)))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f[3] != established || !f[5].StartsWith(keepAliveTimer + ":")) continue;
            if (PortOf(f[1]) == port) accepted++;
            if (PortOf(f[2]) == port) dialed++;
        }
        return (accepted, dialed);
    }

    private static int PortOf(string address) => int.Parse(address[(address.LastIndexOf(':') + 1)..], NumberStyles.HexNumber);

    private static IEnumerable<string> InodesIn(string path, int port, bool listeningOnly)
    {
        const string listen = "0A";
        if (!File.Exists(path)) yield break;
        foreach (var line in File.ReadLines(path).Skip(1))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var local = fields[1];
            var localPort = int.Parse(local[(local.LastIndexOf(':') + 1)..], NumberStyles.HexNumber);
            if (localPort == port && (!listeningOnly || fields[3] == listen)) yield return fields[9];
        }
    }

    /// <summary>A UDP port that was free a moment ago (bound to port 0, read back, released).</summary>
    public static int FreeUdpPort()
    {
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork,
            System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        socket.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        return ((System.Net.IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>A TCP port on loopback that is taken (listened on) for as long as the socket lives: a bind that must fail.</summary>
    public static Socket TakenTcpPort()
    {
        var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        return taken;
    }

    /// <summary>A TCP port that was free a moment ago.</summary>
    public static int FreeTcpPort()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>Polls a condition until it holds or the timeout passes (the kernel updates its tables asynchronously).</summary>
    public static Task<bool> EventuallyAsync(Func<bool> condition, TimeSpan timeout, TimeSpan? poll = null) =>
        EventuallyAsync(() => Task.FromResult(condition()), timeout, poll);

    /// <summary>Whether <paramref name="condition"/> (state no event announces, such as another program's) holds within <paramref name="timeout"/>.</summary>
    public static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, TimeSpan timeout, TimeSpan? poll = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) return false;
            await Task.Delay(poll ?? TimeSpan.FromMilliseconds(20));
        }
        return true;
    }
}
