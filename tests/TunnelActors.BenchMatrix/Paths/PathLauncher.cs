using System.Net;
using TunnelActors.BenchMatrix.Processes;

namespace TunnelActors.BenchMatrix.Paths;

/// <summary>Starts a path's processes on loopback, on ports that were free, and waits until each is ready.</summary>
internal sealed class PathLauncher(Tools tools, TextWriter log)
{
    private static readonly IPAddress Loopback = IPAddress.Loopback;

    // udptunnel binds its UDP port on every address and sends to a fixed address on the same port number, so its
    // application ends (the echo, and the load's peer 0) sit on a second loopback address and share the port.
    private static readonly IPAddress SecondLoopback = IPAddress.Parse("127.0.0.2");

    public async Task<RunningPath> StartAsync(RelayPath path, int peers)
    {
        if (path == RelayPath.Udptunnel) return await StartUdptunnelAsync(peers);
        var echoAt = new IPEndPoint(Loopback, FreePorts.Udp(Loopback));
        var running = new RunningPath { Target = path == RelayPath.Direct ? echoAt : new IPEndPoint(Loopback, FreePorts.Udp(Loopback)) };
        try
        {
            var echo = running.Add(Start("echo", "dotnet", tools.TunnelActors("bench", "echo", "--bind", echoAt.ToString())));
            await SocketTables.WaitUdpBoundAsync(Loopback, echoAt.Port, echo);
            switch (path)
            {
                case RelayPath.TaMullvad: await StartTaMullvadAsync(running, echoAt); break;
                case RelayPath.TaSeed: await StartTaSeedAsync(running, echoAt, peers); break;
                case RelayPath.CRelay: await StartCRelayAsync(running, echoAt); break;
            }
            return running;
        }
        catch
        {
            await running.DisposeAsync();
            throw;
        }
    }

    private async Task StartTaMullvadAsync(RunningPath running, IPEndPoint echo)
    {
        var tcp = FreePorts.Tcp(Loopback);
        running.Side2 = running.Add(Start("ta-server", "dotnet", tools.TunnelActors(
            "run", "--tcp-listen", $"127.0.0.1:{tcp}", "--udp-forward", echo.ToString(), "--log-level", "Warning")));
        await SocketTables.WaitTcpListeningAsync(tcp, running.Side2);
        running.Side1 = running.Add(Start("ta-client", "dotnet", tools.TunnelActors(
            "run", "--udp-listen", running.Target.ToString(), "--tcp-connect", $"127.0.0.1:{tcp}", "--log-level", "Warning")));
        await SocketTables.WaitUdpBoundAsync(Loopback, running.Target.Port, running.Side1);
    }

    private async Task StartTaSeedAsync(RunningPath running, IPEndPoint echo, int peers)
    {
        var tcp = FreePorts.Tcp(Loopback);
        string[] psk = tools.PskFile is null ? [] : ["--psk-file", tools.PskFile];
        running.Side1 = running.Add(Start("ta-nat", "dotnet", tools.TunnelActors(
            ["run", "--udp-listen", running.Target.ToString(), "--tcp-listen", $"127.0.0.1:{tcp}", "--log-level", "Warning", .. psk])));
        await SocketTables.WaitUdpBoundAsync(Loopback, running.Target.Port, running.Side1);
        await SocketTables.WaitTcpListeningAsync(tcp, running.Side1);
        // One pre-dialed connection per peer, so that every phantom peer finds one at once during the warm-up.
        running.Side2 = running.Add(Start("ta-relay", "dotnet", tools.TunnelActors(
            ["run", "--tcp-connect", $"127.0.0.1:{tcp}", "--udp-forward", echo.ToString(), "--pool-size", peers.ToString(), "--log-level", "Warning", .. psk])));
        await SocketTables.WaitTcpConnectedAsync(tcp, running.Side2);
    }

    private async Task StartCRelayAsync(RunningPath running, IPEndPoint echo)
    {
        var relay = tools.CRelay ?? throw new InvalidOperationException("the C relay path needs -CRelay PATH");
        var tcp = FreePorts.Tcp(Loopback);
        running.Side2 = running.Add(Start("c-server", relay, ["relay", "--tcp-listen", $"127.0.0.1:{tcp}", "--udp-forward", echo.ToString()]));
        await SocketTables.WaitTcpListeningAsync(tcp, running.Side2);
        running.Side1 = running.Add(Start("c-client", relay, ["relay", "--udp-listen", running.Target.ToString(), "--tcp-connect", $"127.0.0.1:{tcp}"]));
        await SocketTables.WaitTcpConnectedAsync(tcp, running.Side1);
    }

    /// <summary>
    /// udptunnel -s listens on TCP and relays to the echo on 127.0.0.2:E from an ephemeral socket; the echo answers
    /// 127.0.0.1:E, its wildcard socket. udptunnel -c takes the load's datagrams on its wildcard port U and sends
    /// what comes back to 127.0.0.2:U: the load's peer 0. Both share their ports with udptunnel (SO_REUSEADDR).
    /// </summary>
    private async Task<RunningPath> StartUdptunnelAsync(int peers)
    {
        var echoPort = FreePorts.Udp(IPAddress.Any);
        var loadPort = FreePorts.UdpRange(IPAddress.Any, peers);
        var tcp = FreePorts.Tcp(Loopback);
        var running = new RunningPath
        {
            Target = new IPEndPoint(Loopback, loadPort),
            LoadArguments = ["--bind", $"{SecondLoopback}:{loadPort}", "--reuse-address"],
        };
        try
        {
            var echo = running.Add(Start("echo", "dotnet", tools.TunnelActors("bench", "echo", "--bind", $"{SecondLoopback}:{echoPort}",
                "--reply-to", $"127.0.0.1:{echoPort}", "--reuse-address")));
            await SocketTables.WaitUdpBoundAsync(SecondLoopback, echoPort, echo);
            running.Side2 = running.Add(Start("udptunnel-s", Tools.Udptunnel, ["-s", tcp.ToString(), $"{SecondLoopback}/{echoPort}"]));
            await SocketTables.WaitTcpListeningAsync(tcp, running.Side2);
            running.Side1 = running.Add(Start("udptunnel-c", Tools.Udptunnel, ["-c", $"127.0.0.1/{tcp}", $"{SecondLoopback}/{loadPort}"]));
            await SocketTables.WaitUdpBoundAsync(IPAddress.Any, loadPort, running.Side1);
            await SocketTables.WaitTcpConnectedAsync(tcp, running.Side1);
            return running;
        }
        catch
        {
            await running.DisposeAsync();
            throw;
        }
    }

    private ChildProcess Start(string name, string program, IEnumerable<string> args) => ChildProcess.Start(name, log, program, args);
}
