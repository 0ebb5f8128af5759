using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using TunnelActors.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using TunnelActors.Tools.Demo;

namespace TunnelActors.Tests.Faults;

/// <summary>SIGTERM or SIGINT while datagrams flow: each side stops cleanly and quickly, and says so only on stderr.</summary>
public sealed class ShutdownUnderLoadTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(5);

    [Theory]
    [InlineData("TERM")]
    [InlineData("INT")]
    public async Task A_signal_under_load_stops_each_side_within_5_s_with_exit_0_its_ports_free_nothing_on_stdout_and_no_error(string signal)
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        await using var server = SideProcess.Start("--tcp-listen", "127.0.0.1:0", "--udp-forward", echo.LocalEndPoint.ToString());
        var tcpPort = await server.TcpPortAsync();
        await using var client = SideProcess.Start("--udp-listen", "127.0.0.1:0", "--tcp-connect", $"127.0.0.1:{tcpPort}");
        var udpPort = await client.UdpPortAsync();
        var tunnel = new IPEndPoint(IPAddress.Loopback, udpPort);

        using var stop = new CancellationTokenSource();
        var load = Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Task.Run(() => SendUntilAsync(tunnel, stop.Token))));
        await client.LoggedAsync("Session started");
        await server.LoggedAsync("Session started");

        foreach (var (side, port, name) in new[] { (client, udpPort, "udp-listen side"), (server, tcpPort, "tcp-listen side") })
        {
            var clock = Stopwatch.StartNew();
            await side.StopAsync(signal);
            var took = clock.Elapsed;
            output.WriteLine($"{name}: SIG{signal} to exit {took.TotalMilliseconds:0} ms, exit code {side.ExitCode}");
            Assert.True(side.ExitCode == 0, $"{name}: exit code {side.ExitCode}: {side.Log}");
            Assert.True(took < Deadline, $"{name} took {took} to stop");
            Assert.True(side.Stdout == "", $"{name} printed on stdout: {side.Stdout}");
            Assert.DoesNotContain(" ERR ", side.Log);
            Assert.Contains("Tunnel side stopped", side.Log);
            Assert.Equal(0, name.StartsWith("udp") ? BoundSockets.Udp(port) : BoundSockets.TcpListeners(port));
        }
        await stop.CancelAsync();
        await load;
    }

    /// <summary>A phantom peer sending about 500 datagrams a second until told to stop.</summary>
    private static async Task SendUntilAsync(IPEndPoint tunnel, CancellationToken stop)
    {
        using var socket = Peers.Bind(AddressFamily.InterNetwork);
        var datagram = new byte[200];
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(10));
        while (!stop.IsCancellationRequested)
        {
            // Once the side is gone, the kernel answers with port unreachable, which the next send reports.
            for (var i = 0; i < 5; i++)
                try { await socket.SendToAsync(datagram, tunnel); } catch (SocketException) { }
            try { await timer.WaitForNextTickAsync(stop); } catch (OperationCanceledException) { return; }
        }
    }
}
