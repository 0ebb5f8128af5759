using System.Net.Sockets;
using TunnelActors.Tests.Deployment;
using TunnelActors.Tests.Support;
using Xunit;

namespace TunnelActors.Tests.Transport;

/// <summary>
/// Datagrams the kernel refuses to send, counted and logged by cause, over real sockets: a forward side runs in
/// a network namespace of the test's own, where the cause is set up (an nftables rule, no route, a slow
/// interface); the test writes frames to it over TCP and reads its /metrics and its log.
/// </summary>
public sealed class SendErrorTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    /// <summary>The namespace's own loopback: the port is ours to choose.</summary>
    private const string Target = "127.0.0.1:5072";

    private const string Warning = "Cannot send UDP to ";

    [NamespaceFact]
    public async Task A_datagram_a_local_firewall_rule_drops_is_counted_as_forbidden_and_warned_of_once()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        foreach (var rule in new[]
                 {
                     "add table inet t", "add chain inet t out { type filter hook output priority 0 ; }", "add rule inet t out udp dport 5072 drop",
                 })
            await TestNetwork.SucceedAsync(ns.Name, ["nft", .. rule.Split(' ')]);
        await using var relay = await Relay.StartAsync(ns, Target);

        await relay.SendAsync(count: 5, size: 100);

        Assert.Equal(new Dictionary<string, long> { ["udp-send-forbidden"] = 5 }, await relay.DropsAsync(5));
        await relay.Side.StopAsync();
        var warning = Assert.Single(Lines(relay.Side.Log, Warning));
        Assert.Contains($"{Warning}{Target}: EPERM (errno 1, Operation not permitted): a local firewall rule", warning);
        Assert.Contains("WRN", warning);
        Assert.Contains("dropped UdpSendForbidden=5", relay.Side.Log);
    }

    [NamespaceFact]
    public async Task A_target_without_a_route_is_counted_as_unreachable_and_warned_of_once_naming_the_configured_target_plainly()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        // The namespace has a route to its own /30 only.
        await using var relay = await Relay.StartAsync(ns, "203.0.113.7:5072", "--redact-addresses");

        await relay.SendAsync(count: 5, size: 100);

        Assert.Equal(new Dictionary<string, long> { ["udp-send-unreachable"] = 5 }, await relay.DropsAsync(5));
        await relay.Side.StopAsync();
        var warning = Assert.Single(Lines(relay.Side.Log, Warning));
        Assert.Contains($"{Warning}203.0.113.7:5072: ENETUNREACH (errno 101, Network is unreachable): no route", warning);
        Assert.Contains("dropped UdpSendUnreachable=5", relay.Side.Log);
    }

    [NamespaceFact]
    public async Task A_full_send_buffer_is_still_udp_send_failed_and_its_warning_alone_says_to_raise_the_buffer()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        // Loopback at 8 kbit/s, queueing (not dropping) what waits: the forward socket's small buffer fills at once.
        await TestNetwork.SucceedAsync(ns.Name, "tc", "qdisc", "add", "dev", "lo", "root", "tbf", "rate", "8kbit", "burst", "1600", "limit", "1000000");
        using var config = new TempFile("tunnel.udp.send-buffer = 4096");
        await using var relay = await Relay.StartAsync(ns, Target, "--config", config.Path);

        await relay.SendAsync(count: 40, size: 1200);

        var drops = await relay.DropsAsync(atLeast: 30);
        Assert.Equal(new[] { "udp-send-failed" }, drops.Keys);
        await relay.Side.StopAsync();
        var warning = Assert.Single(Lines(relay.Side.Log, Warning));
        Assert.Contains($"{Warning}{Target}: EAGAIN (errno 11, Resource temporarily unavailable): ", warning);
        Assert.Contains("tunnel.udp.send-buffer", warning);
    }

    [Fact]
    public async Task A_target_port_with_nothing_listening_refuses_no_send()
    {
        // Linux reports an ICMP port unreachable on a UDP socket only if it is connected or has IP_RECVERR: the
        // relay's sockets are neither, so ECONNREFUSED never comes back from sendto.
        await using var side = await Sides.StartAsync("closed-target", ("tunnel.tcp.listen", "127.0.0.1:0"),
            ("tunnel.udp.forward", $"127.0.0.1:{BoundSockets.FreeUdpPort()}"));
        using var tunnel = new TcpClient();
        await tunnel.ConnectAsync(side.TcpEndpoint);
        long Sent() => SideMetrics.Read("closed-target", "datagrams", ("direction", "tcp-to-udp"));
        var unreachableBefore = PortUnreachablesReceived();
        for (var i = 0; i < 20; i++)
        {
            await tunnel.GetStream().WriteAsync(Frames.Of(new byte[10]));
            // Each after the last one was sent and its port unreachable came back. The kernel counts ICMP for the whole
            // machine: others' only make the wait shorter.
            Assert.True(await BoundSockets.EventuallyAsync(() => Sent() == i + 1 && PortUnreachablesReceived() - unreachableBefore >= i + 1, Wait),
                $"sent {Sent()} of {i + 1}; {PortUnreachablesReceived() - unreachableBefore} ICMP destination unreachable came back");
        }
        Assert.Equal(0, SideMetrics.Read("closed-target", "drops"));
    }

    /// <summary>ICMP destination unreachable messages this machine has received (/proc/net/snmp).</summary>
    private static long PortUnreachablesReceived()
    {
        var rows = File.ReadLines("/proc/net/snmp").Where(l => l.StartsWith("Icmp:", StringComparison.Ordinal))
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        return long.Parse(rows[1][Array.IndexOf(rows[0], "InDestUnreachs")]);
    }

    private static IReadOnlyList<string> Lines(string log, string containing) =>
        log.Split('\n').Where(line => line.Contains(containing, StringComparison.Ordinal)).ToList();

    /// <summary>A forward side in the namespace with its metrics served there, and a tunnel connection to it from here.</summary>
    private sealed class Relay(SideProcess side, TcpClient tunnel) : IAsyncDisposable
    {
        public SideProcess Side => side;

        public static async Task<Relay> StartAsync(NetworkNamespace ns, string target, params string[] args)
        {
            var side = SideProcess.StartIn(ns, ["--tcp-listen", $"{ns.NamespaceAddress}:0", "--udp-forward", target,
                "--metrics", $"{ns.NamespaceAddress}:0", .. args]);
            var tunnel = new TcpClient();
            await tunnel.ConnectAsync(ns.NamespaceAddress, await side.TcpPortAsync());
            return new Relay(side, tunnel);
        }

        public Task SendAsync(int count, int size) => tunnel.GetStream().WriteAsync(Frames.Repeat(count, new byte[size])).AsTask();

        /// <summary>The drops by reason (tag), once at least <paramref name="atLeast"/> were counted in all.</summary>
        public async Task<Dictionary<string, long>> DropsAsync(int atLeast)
        {
            var drops = new Dictionary<string, long>();
            var counted = await BoundSockets.EventuallyAsync(async () =>
            {
                drops = await ReadDropsAsync();
                return drops.Values.Sum() >= atLeast;
            }, Wait, TimeSpan.FromMilliseconds(100));
            Assert.True(counted, $"dropped {string.Join(", ", drops)}: {side.Log}");
            return drops;
        }

        private async Task<Dictionary<string, long>> ReadDropsAsync() =>
            (await side.MetricsAsync()).Where(s => s.Instrument == "drops" && s.Value > 0).ToDictionary(s => s.Labels["reason"], s => (long)s.Value);

        public async ValueTask DisposeAsync()
        {
            tunnel.Dispose();
            await side.DisposeAsync();
        }
    }
}
