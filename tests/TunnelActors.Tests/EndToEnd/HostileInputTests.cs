using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using TunnelActors.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using TunnelActors.Auth;
using TunnelActors.Tools.Demo;

namespace TunnelActors.Tests.EndToEnd;

/// <summary>
/// Floods and garbage from one loopback address while a legitimate peer on another runs alongside: the side
/// stays up, its memory bounded, and the peer loses nothing. Figures go to the test output.
/// </summary>
public sealed class HostileInputTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private static readonly IPAddress Attacker = IPAddress.Parse("127.0.0.3");
    private static readonly IPAddress Vandal = IPAddress.Parse("127.0.0.4");
    private static readonly IPAddress Legitimate = IPAddress.Parse("127.0.0.2");

    [Fact]
    public async Task Sixty_thousand_phantom_ports_from_one_address_are_capped_and_a_peer_from_another_loses_nothing()
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        await using var server = SideProcess.Start("--tcp-listen", "127.0.0.1:0", "--udp-forward", echo.LocalEndPoint.ToString());
        using var config = new TempFile("tunnel.session.max-per-source = 200");
        await using var client = SideProcess.Start("--udp-listen", "127.0.0.1:0", "--tcp-connect", $"127.0.0.1:{await server.TcpPortAsync()}",
            "--config", config.Path);
        var tunnel = new IPEndPoint(IPAddress.Loopback, await client.UdpPortAsync());
        Assert.Equal(0, await EchoOneAtATimeAsync(Legitimate, tunnel, count: 50));
        var rssBefore = client.ResidentBytes;
        var kernelDropsBefore = UdpReceiveBufferErrors();

        var flood = Task.Run(() => SendFromPorts(Attacker, tunnel, count: 60_000, perSecond: 20_000));
        var lost = await EchoOneAtATimeAsync(Legitimate, tunnel, count: 1000);
        var sent = await flood;
        var rssAfter = client.ResidentBytes;
        var kernelDrops = UdpReceiveBufferErrors() - kernelDropsBefore;
        await client.StopAsync();

        var counters = Regex.Match(client.Log, "Tunnel side stopped: ([^;]*)").Groups[1].Value;
        var intoTunnel = long.Parse(Regex.Match(counters, @"udp→tcp (\d+) datagrams").Groups[1].Value);
        var capped = long.Parse(Regex.Match(counters, @"SourceLimit=(\d+)").Groups[1].Value);
        output.WriteLine($"{sent} phantom ports sent from {Attacker} at 20,000 a second; refused at the per-source cap: {capped}; " +
                         $"dropped by the kernel (a receive buffer full, any socket): {kernelDrops}; resident memory {rssBefore >> 20} -> {rssAfter >> 20} MiB; " +
                         $"legitimate peer lost {lost} of 1000; {counters}");
        Assert.Equal(0, lost);
        Assert.True(sent == 60_000, $"only {sent} ports could be bound");
        // Into the tunnel: the peer's 1,050 datagrams and at most one from each of the 200 phantom ports admitted.
        Assert.InRange(intoTunnel, 1050, 1050 + 200);
        Assert.True(capped >= sent - 200 - kernelDrops, counters);
        Assert.True(rssAfter - rssBefore < 50 << 20, $"resident memory grew from {rssBefore >> 20} to {rssAfter >> 20} MiB");
    }

    [Fact]
    public async Task Abandoned_connections_garbage_and_stalled_frames_leave_the_process_up_its_memory_bounded_and_a_peer_whole()
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        using var config = new TempFile("tunnel.tcp.first-frame-timeout = 2s");
        await using var server = SideProcess.Start("--tcp-listen", "127.0.0.1:0", "--udp-forward", echo.LocalEndPoint.ToString(),
            "--config", config.Path);
        var tcpPort = await server.TcpPortAsync();
        await using var client = await Sides.StartAsync("client", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.connect", $"127.0.0.1:{tcpPort}"));
        await AttackAsync(server, tcpPort, client.UdpEndpoint);
    }

    /// <summary>
    /// The same mix against a keyed side, in both roles that listen on TCP: the forward server, and the seed's NAT box
    /// (the attacked side is the one the peer sends to). Connections that never finish the handshake are held to
    /// tcp.max-handshakes-per-source.
    /// </summary>
    [Theory]
    [InlineData("forward server")]
    [InlineData("NAT box")]
    public async Task On_a_keyed_side_abandoned_connections_and_garbage_leave_its_memory_bounded_and_a_peer_whole(string role)
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        using var key = new TempFile(PreSharedKey.Generate());
        using var config = new TempFile("tunnel.tcp.first-frame-timeout = 2s");
        if (role == "NAT box")
        {
            await using var nat = SideProcess.Start("--udp-listen", "127.0.0.1:0", "--tcp-listen", "127.0.0.1:0", "--psk-file", key.Path,
                "--config", config.Path);
            var natPort = await nat.TcpPortAsync();
            await using var relay = await Sides.StartAsync("keyed-relay", ("tunnel.tcp.connect", $"127.0.0.1:{natPort}"),
                ("tunnel.udp.forward", echo.LocalEndPoint.ToString()), ("tunnel.auth.psk-file", key.Path));
            await AttackAsync(nat, natPort, new IPEndPoint(IPAddress.Loopback, await nat.UdpPortAsync()));
            return;
        }
        await using var server = SideProcess.Start("--tcp-listen", "127.0.0.1:0", "--udp-forward", echo.LocalEndPoint.ToString(),
            "--psk-file", key.Path, "--config", config.Path);
        var tcpPort = await server.TcpPortAsync();
        await using var client = await Sides.StartAsync("keyed-client", ("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", $"127.0.0.1:{tcpPort}"), ("tunnel.auth.psk-file", key.Path));
        await AttackAsync(server, tcpPort, client.UdpEndpoint);
    }

    /// <summary>
    /// Garbage, a stalled half frame and an oversize frame from one address, 3,000 silent connections from another, then a
    /// peer's 1,000 echoes through <paramref name="tunnel"/> (a UDP-listen endpoint whose datagrams cross
    /// <paramref name="server"/>): the side stays up, grows less than 50 MB, and the peer loses nothing.
    /// </summary>
    private async Task AttackAsync(SideProcess server, int tcpPort, IPEndPoint tunnel)
    {
        // Pages become resident only where written (no transparent huge pages, which would round each touched
        // page of a connection's receive buffer up to 2 MiB as khugepaged goes by, on hosts where THP is "always").
        var thp = File.ReadLines($"/proc/{server.ProcessId}/status").FirstOrDefault(l => l.StartsWith("THP_enabled:"));
        if (thp is not null) Assert.Equal("0", thp.Split(':')[1].Trim());
        Assert.Equal(0, await EchoOneAtATimeAsync(IPAddress.Loopback, tunnel, count: 50));
        var rssBefore = server.ResidentBytes;

        var connections = new List<TcpClient>();
        var refused = 0;
        try
        {
            // Random bytes, a half frame that stalls, frames longer than any UDP datagram.
            foreach (var garbage in new[] { RandomNumberGenerator.GetBytes(64 * 1024), [0xFF], [0xFF, 0xFF, 1, 2, 3], Oversize() })
            {
                var connection = await ConnectAsync(Vandal, tcpPort);
                connections.Add(connection!);
                try { await connection!.GetStream().WriteAsync(garbage); } catch (IOException) { }
            }
            // 3,000 connections opened and left silent; those beyond the per-source cap are refused.
            for (var i = 0; i < 3000; i++)
            {
                if (await ConnectAsync(Attacker, tcpPort) is { } connection) connections.Add(connection);
                else refused++;
            }
            var lost = await EchoOneAtATimeAsync(IPAddress.Loopback, tunnel, count: 1000);
            var rssDuring = server.ResidentBytes;
            output.WriteLine($"3,000 silent connections ({refused} refused while connecting) and 4 garbage ones: legitimate peer lost {lost} of 1000 " +
                             $"during the attack; RSS {rssBefore >> 20} -> {rssDuring >> 20} MiB");
            Assert.Equal(0, lost);
            Assert.False(server.HasExited, $"the side exited: {server.Log}");
            Assert.True(rssDuring - rssBefore < 50 << 20, $"RSS grew from {rssBefore >> 20} to {rssDuring >> 20} MiB");
        }
        finally
        {
            foreach (var connection in connections) connection.Dispose();
        }
    }

    private static byte[] Oversize()
    {
        var frame = new byte[2 + 65535];
        frame[0] = frame[1] = 0xFF;
        return frame;
    }

    /// <summary>A connection from <paramref name="from"/>, or null when the side refused it while it was being made.</summary>
    private static async Task<TcpClient?> ConnectAsync(IPAddress from, int port)
    {
        var client = new TcpClient(new IPEndPoint(from, 0));
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port);
            return client;
        }
        catch (SocketException)
        {
            client.Dispose();
            return null;
        }
    }

    /// <summary>Datagrams the kernel dropped because a UDP socket's receive buffer was full, all sockets of the machine.</summary>
    private static long UdpReceiveBufferErrors()
    {
        var lines = File.ReadLines("/proc/net/snmp").Where(l => l.StartsWith("Udp:")).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        return long.Parse(lines[1][Array.IndexOf(lines[0], "RcvbufErrors")]);
    }

    /// <summary>
    /// Sends one datagram from each of <paramref name="count"/> ports on <paramref name="address"/> (of 1024 to
    /// 65535, skipping those in use), at most <paramref name="perSecond"/>; returns how many went out.
    /// </summary>
    private static int SendFromPorts(IPAddress address, IPEndPoint target, int count, int perSecond)
    {
        var sent = 0;
        var datagram = new byte[32];
        var clock = Stopwatch.StartNew();
        for (var port = 2000; port <= 65535 && sent < count; port++)
        {
            // Paced (a flood beyond what the side can read fills the socket's kernel buffer, and the kernel then
            // drops every source's datagrams alike, as it would for any UDP server).
            while (sent > perSecond * clock.Elapsed.TotalSeconds) Thread.Sleep(1);
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                socket.Bind(new IPEndPoint(address, port));
                socket.SendTo(datagram, target);
                sent++;
            }
            catch (SocketException)
            {
                // The port is in use on this machine: skip it.
            }
        }
        return sent;
    }

    /// <summary>A peer on <paramref name="address"/> sends datagrams one at a time and waits for each echo; returns how many never came back.</summary>
    private static async Task<int> EchoOneAtATimeAsync(IPAddress address, IPEndPoint tunnel, int count)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(address, 0));
        var buffer = new byte[2048];
        var lost = 0;
        for (var i = 0; i < count; i++)
        {
            var datagram = BitConverter.GetBytes(i);
            await socket.SendToAsync(datagram, tunnel);
            var length = await Peers.ReceiveAsync(socket, buffer, TimeSpan.FromSeconds(5), tunnel);
            if (length != 4 || BitConverter.ToInt32(buffer) != i) lost++;
        }
        return lost;
    }
}
