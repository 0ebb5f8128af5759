using System.Globalization;
using System.Runtime.InteropServices;

namespace TunnelActors.Tests.Support;

/// <summary>
/// The options of sockets this process holds but the test did not make: the tunnel connections of a side started
/// in the test's process (<see cref="Sides"/>), found through the kernel's tables and read with getsockopt.
/// </summary>
public static class SocketOptions
{
    public const int SolSocket = 1, SoSndBuf = 7, SoRcvBuf = 8, SoKeepAlive = 9;
    public const int IpProtoTcp = 6, TcpKeepIdle = 4, TcpKeepInterval = 5, TcpKeepCount = 6, TcpUserTimeout = 18, TcpNotSentLowWater = 25;

    /// <summary>This process's descriptors of established TCP connections on <paramref name="port"/>: accepted on it, or dialed to it.</summary>
    public static (IReadOnlyList<int> Accepted, IReadOnlyList<int> Dialed) ConnectionsOn(int port)
    {
        const string established = "01";
        var accepted = new List<string>();
        var dialed = new List<string>();
        foreach (var line in new[] { "/proc/net/tcp", "/proc/net/tcp6" }.Where(File.Exists).SelectMany(p => File.ReadLines(p).Skip(1)))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f[3] != established) continue;
            if (PortOf(f[1]) == port) accepted.Add(f[9]);
            if (PortOf(f[2]) == port) dialed.Add(f[9]);
        }
        var descriptors = new Dictionary<string, int>();
        foreach (var fd in Directory.EnumerateFiles("/proc/self/fd"))
        {
            string? target;
            try { target = new FileInfo(fd).LinkTarget; }
            catch (IOException) { continue; } // closed since it was listed
            if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal))
                descriptors[target["socket:[".Length..^1]] = int.Parse(Path.GetFileName(fd), CultureInfo.InvariantCulture);
        }
        return (Here(accepted), Here(dialed));

        // Both ends of a loopback connection are in the table; only those this process holds have a descriptor here.
        List<int> Here(List<string> inodes) => inodes.Where(descriptors.ContainsKey).Select(i => descriptors[i]).ToList();
    }

    /// <summary>An integer socket option of descriptor <paramref name="fd"/>.</summary>
    public static int Get(int fd, int level, int option)
    {
        var length = sizeof(int);
        if (GetSockOpt(fd, level, option, out var value, ref length) != 0)
            throw new InvalidOperationException($"getsockopt({fd}, {level}, {option}) failed: errno {Marshal.GetLastPInvokeError()}");
        return value;
    }

    private static int PortOf(string address) => int.Parse(address[(address.LastIndexOf(':') + 1)..], NumberStyles.HexNumber);

    [DllImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    private static extern int GetSockOpt(int fd, int level, int option, out int value, ref int length);
}
