using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using TunnelActors.Tools;
using TunnelActors.Tools.Demo;
using TunnelActors.Tests.Support;
using Xunit;

namespace TunnelActors.Tests.Hosting;

/// <summary>
/// A side's first session must not wait for the JIT. The program compiles every method fully on first use
/// (TieredCompilation off), and compiling the datagram path when the first peer sent took 40–180 ms, during
/// which that peer's datagrams queued and then went out glued into a few TCP writes: Debian's udptunnel, which
/// forwards one frame per read, keeps every glued frame for good, and lost 25–53 of 2,000 datagrams at 500/s.
/// The runtime itself says what it compiles (<c>DOTNET_JitStdOutFile</c>, <c>DOTNET_JitDisasmSummary</c>,
/// one numbered line per method), so this needs no timing: nothing of the datagram path may be compiled after
/// the side is ready.
/// </summary>
public sealed class FirstSessionTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    /// <summary>Where a session's datagrams go: the relay's actors and Akka.IO's socket actors.</summary>
    private static readonly Regex DatagramPath = new(@"^\d+: JIT compiled (TunnelActors\.(Framing|Links|Sessions|Endpoints|Transport|Flow)\.|Akka\.IO\.)");

    /// <summary>Compiled when the side tells systemd it is ready (compiled also without systemd, just before READY=1).</summary>
    private const string ReadyMarker = "JIT compiled TunnelActors.Hosting.ServiceNotifications:Ready(";

    [Theory]
    [InlineData("udp-listen/tcp-connect")]
    [InlineData("tcp-listen/udp-forward")]
    public async Task The_first_session_runs_on_code_compiled_before_the_side_was_ready(string orientation)
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        using var jitLog = new TempFile("");
        var jit = new Dictionary<string, string> { ["DOTNET_JitStdOutFile"] = jitLog.Path, ["DOTNET_JitDisasmSummary"] = "1" };

        // The side under test is a real process (its own JIT); the far side runs in the test's, and dials or is dialed.
        var dialing = orientation == "udp-listen/tcp-connect";
        TunnelSide? far = null;
        SideProcess? side = null;
        try
        {
            if (dialing)
            {
                far = await Sides.StartAsync("far", ("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", echo.LocalEndPoint.ToString()));
                side = SideProcess.StartWith(jit, "--udp-listen", "127.0.0.1:0", "--tcp-connect", far.TcpEndpoint.ToString());
            }
            else
            {
                side = SideProcess.StartWith(jit, "--tcp-listen", "127.0.0.1:0", "--udp-forward", echo.LocalEndPoint.ToString());
                far = await Sides.StartAsync("far", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", $"127.0.0.1:{await side.TcpPortAsync()}"));
            }
            Assert.True(await BoundSockets.EventuallyAsync(() => Compiled(jitLog.Path).Any(m => m.Contains(ReadyMarker, StringComparison.Ordinal)), Wait),
                $"the side never got ready, or the runtime wrote no JIT summary to {jitLog.Path}: {side.Log}");
            var ready = Compiled(jitLog.Path).Count;

            var entry = dialing ? new IPEndPoint(IPAddress.Loopback, await side.UdpPortAsync()) : far.UdpEndpoint;
            Assert.Empty(await Peers.EchoAsync(entry, 1, [64, 1200, 9000], rounds: 3));

            var duringSession = Compiled(jitLog.Path).Skip(ready).Where(m => DatagramPath.IsMatch(m)).ToList();
            Assert.True(duringSession.Count == 0,
                $"{duringSession.Count} methods of the datagram path were compiled while the side carried its first session:\n" +
                string.Join('\n', duringSession.Take(30)));
        }
        finally
        {
            if (far is not null) await far.DisposeAsync();
            if (side is not null) await side.DisposeAsync();
        }
    }

    /// <summary>The runtime's one line per compiled method, in the order compiled (a line still being written is left out).</summary>
    private static List<string> Compiled(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        var text = reader.ReadToEnd();
        var complete = text.EndsWith('\n') ? text : text[..(text.LastIndexOf('\n') + 1)];
        return complete.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.Contains(": JIT compiled ", StringComparison.Ordinal)).ToList();
    }
}
