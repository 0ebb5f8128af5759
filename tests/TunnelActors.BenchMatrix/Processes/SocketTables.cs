using System.Globalization;
using System.Net;

namespace TunnelActors.BenchMatrix.Processes;

/// <summary>
/// Readiness from the kernel's socket tables (/proc/net): a port this run chose is bound, listening or connected.
/// Ports are free ones found by binding port 0, so a match is the process that was told to use it.
/// </summary>
internal static class SocketTables
{
    private const string Listening = "0A", Established = "01";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    public static Task WaitUdpBoundAsync(IPAddress address, int port, ChildProcess by)
    {
        var hex = string.Concat(address.GetAddressBytes().Reverse().Select(b => b.ToString("X2", CultureInfo.InvariantCulture)));
        return WaitAsync(() => Rows("udp").Any(r => r.LocalPort == port && r.LocalAddress == hex), $"UDP {address}:{port} bound", by);
    }

    public static Task WaitTcpListeningAsync(int port, ChildProcess by) =>
        WaitAsync(() => Rows("tcp").Any(r => r.LocalPort == port && r.State == Listening), $"TCP port {port} listening", by);

    public static Task WaitTcpConnectedAsync(int port, ChildProcess by) =>
        WaitAsync(() => Rows("tcp").Any(r => r.RemotePort == port && r.State == Established), $"a connection to TCP port {port}", by);

    private static async Task WaitAsync(Func<bool> ready, string what, ChildProcess by)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!ready())
        {
            if (by.HasExited) throw new InvalidOperationException($"{by.Name} exited before {what}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{by.Name}: no {what} within {Timeout.TotalSeconds:0} s");
            await Task.Delay(20);
        }
    }

    private readonly record struct Row(string LocalAddress, int LocalPort, int RemotePort, string State);

    private static IEnumerable<Row> Rows(string table) =>
        new[] { $"/proc/net/{table}", $"/proc/net/{table}6" }.Where(File.Exists).SelectMany(path => File.ReadLines(path).Skip(1))
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(f => new Row(f[1][..f[1].LastIndexOf(':')], Port(f[1]), Port(f[2]), f[3]));

    private static int Port(string address) => int.Parse(address[(address.LastIndexOf(':') + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
}
