using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Akka.Configuration;
using Serilog;
using TunnelActors.Configuration;
using TunnelActors.Tools;
using TunnelActors.Tools.Demo;

namespace TunnelActors.Cli;

/// <summary>
/// Before a side binds, a loopback pair of its orientation carries a few datagrams through an echo, in actor
/// systems of their own, and stops. The runtime compiles every method fully at its first call and never again
/// (<c>TieredCompilation</c> off, TunnelActors.Cli.csproj), so without this the side's first session paid for
/// compiling the whole datagram path: 40–180 ms during which its peer's datagrams queued and then went out
/// glued into a few writes, which a peer that takes one frame per read (Debian's udptunnel) never catches up
/// with. Afterwards a new session is linked within a millisecond or two. Nothing here can stop the side from
/// starting: a rehearsal that fails is logged at debug level and the side starts cold.
/// </summary>
internal static class Rehearsal
{
    /// <summary>Phantom peers, one after the other: a second session still compiled some of its own path.</summary>
    private const int Peers = 2;

    private const int DatagramsPerPeer = 3;

    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(2);

    // The rehearsal's sides say nothing: their start and stop lines would read as the real side's.
    private static readonly Config Quiet = ConfigurationFactory.ParseString("akka.loglevel = OFF\nakka.stdout-loglevel = OFF");

    public static async Task RunAsync(TunnelConfiguration side, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        var sides = new List<TunnelSide>();
        UdpEcho? echo = null;
        try
        {
            echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
            await RehearseAsync(side.Settings, side.Config.GetString("tunnel.auth.psk-file", ""), echo, sides, cancellation);
            Log.Debug("Datagram path rehearsed on loopback in {Milliseconds} ms", clock.ElapsedMilliseconds);
        }
        catch (Exception e)
        {
            Log.Debug("Start-up rehearsal on loopback failed after {Milliseconds} ms ({Reason}); the side starts without it",
                clock.ElapsedMilliseconds, e.Message);
        }
        finally
        {
            // Terminated, not stopped gracefully: nothing of theirs needs its goodbye, and nothing of theirs may
            // still run beside the real side.
            try
            {
                await Task.WhenAll(sides.Select(s => s.System.Terminate())).WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (Exception e)
            {
                Log.Debug("Stopping the start-up rehearsal: {Reason}", e.Message);
            }
            echo?.Dispose();
        }
    }

    private static async Task RehearseAsync(TunnelSettings settings, string keyFile, UdpEcho echo, List<TunnelSide> sides,
        CancellationToken cancellation)
    {
        // The same authentication as the side: with its key both ends run the handshake, without one plain frames.
        var auth = new Dictionary<string, string> { ["tunnel.auth.psk-file"] = keyFile, ["tunnel.auth.allow-unauthenticated"] = "on" };
        var seed = settings.Udp.Role == UdpRole.Listen ? settings.Tcp.Role == TcpRole.Listen : settings.Tcp.Role == TcpRole.Connect;
        // The end that TCP-listens starts first; the other dials it.
        var listening = await StartAsync("rehearsal-listen", auth, seed
            ? new() { ["tunnel.udp.listen"] = "127.0.0.1:0", ["tunnel.tcp.listen"] = "127.0.0.1:0" }
            : new() { ["tunnel.tcp.listen"] = "127.0.0.1:0", ["tunnel.udp.forward"] = echo.LocalEndPoint.ToString() });
        sides.Add(listening);
        var dialing = await StartAsync("rehearsal-dial", auth, seed
            ? new() { ["tunnel.tcp.connect"] = listening.TcpEndpoint.ToString(), ["tunnel.udp.forward"] = echo.LocalEndPoint.ToString(), ["tunnel.tcp.pool-size"] = "2" }
            : new() { ["tunnel.udp.listen"] = "127.0.0.1:0", ["tunnel.tcp.connect"] = listening.TcpEndpoint.ToString() });
        sides.Add(dialing);
        var entry = (seed ? listening : dialing).UdpEndpoint;
        for (var peer = 0; peer < Peers; peer++) await ExchangeAsync(entry, cancellation);
    }

    private static async Task<TunnelSide> StartAsync(string name, Dictionary<string, string> auth, Dictionary<string, string> roles)
    {
        foreach (var (key, value) in auth) roles[key] = value;
        return await TunnelSide.StartAsync(name, TunnelConfiguration.FromHocon("", roles), Quiet);
    }

    /// <summary>One phantom peer: a few datagrams of different sizes, each waiting for its echo.</summary>
    private static async Task ExchangeAsync(IPEndPoint entry, CancellationToken cancellation)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var buffer = new byte[2048];
        for (var i = 0; i < DatagramsPerPeer; i++)
        {
            var payload = new byte[64 << (2 * i)];
            Random.Shared.NextBytes(payload);
            await socket.SendToAsync(payload, entry, cancellation);
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            wait.CancelAfter(ReplyTimeout);
            var reply = await socket.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), wait.Token);
            if (!buffer.AsSpan(0, reply.ReceivedBytes).SequenceEqual(payload))
                throw new InvalidOperationException("an echo came back altered");
        }
    }
}
