using System.Net;
using System.Net.Sockets;
using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors.Auth;
using TunnelActors.Flow;
using TunnelActors.Observability;

namespace TunnelActors.Tests.Faults;

/// <summary>
/// A far side that does not let this side in: refused dials and refused keys are failed attempts, backed off once
/// per far side (not once per peer), and given up on after <c>tcp.reconnect.max-retries</c>.
/// </summary>
public sealed class DialBackoffTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private readonly TempFile _key = new(PreSharedKey.Generate());
    private readonly TempFile _otherKey = new(PreSharedKey.Generate());
    private readonly UdpTarget _target = new();

    [Fact]
    public async Task A_relay_host_whose_key_the_nat_box_refuses_backs_off_and_exits_non_zero_after_max_retries_saying_so()
    {
        await using var nat = await Sides.StartAsync("refusing-nat", ("tunnel.udp.listen", "127.0.0.1:0"), ("tunnel.tcp.listen", "127.0.0.1:0"),
            ("tunnel.auth.psk-file", _key.Path));
        using var config = new TempFile("""
            tunnel.tcp.reconnect { min-backoff = 100ms, max-backoff = 200ms, max-retries = 3 }
            """);
        await using var relay = SideProcess.Start("--tcp-connect", nat.TcpEndpoint.ToString(), "--udp-forward", _target.LocalEndPoint.ToString(),
            "--psk-file", _otherKey.Path, "--config", config.Path);

        using var exited = new CancellationTokenSource(Wait);
        await relay.WaitForExitAsync(exited.Token);
        Assert.NotEqual(0, relay.ExitCode);
        Assert.Contains("refused this side's key", relay.Log);
        var refused = SideResources.For(nat.System).Links.Refused(Refusal.HandshakeFailed);
        // The first round dials the whole pool at once; after that one attempt per backoff, three failures in all.
        Assert.InRange(refused, 3, 4 + 2);
    }

    [NamespaceFact]
    public async Task Many_peers_behind_a_far_side_that_is_down_make_one_backoff_schedule_not_one_each()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        // Port 1 inside the side's own namespace: nothing listens there, every dial is refused at once.
        await using var side = SideProcess.StartIn(ns, "--udp-listen", $"{ns.NamespaceAddress}:0", "--tcp-connect", "127.0.0.1:1",
            "--config", WriteBackoff("500ms", "1s").Path);
        var tunnel = new IPEndPoint(ns.NamespaceAddress, await side.UdpPortAsync());
        var before = ActiveOpens(side.ProcessId);

        var peers = Enumerable.Range(0, 30).Select(_ => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp)).ToList();
        try
        {
            foreach (var peer in peers)
            {
                peer.Bind(new IPEndPoint(ns.HostAddress, 0));
                await peer.SendToAsync(new byte[] { 1 }, tunnel);
            }
            // Four seconds of refused dials: one schedule of 500 ms doubling to 1 s is about six attempts; thirty
            // peers each on their own schedule would be over a hundred.
            var dials = await CountForAsync(TimeSpan.FromSeconds(4), () => ActiveOpens(side.ProcessId) - before);
            Assert.InRange(dials, 1, 12);
        }
        finally
        {
            foreach (var peer in peers) peer.Dispose();
        }
    }

    private readonly List<TempFile> _configs = [];

    private TempFile WriteBackoff(string min, string max)
    {
        var file = new TempFile($"tunnel.tcp.reconnect {{ min-backoff = {min}, max-backoff = {max} }}");
        _configs.Add(file);
        return file;
    }

    private static async Task<long> CountForAsync(TimeSpan period, Func<long> count)
    {
        using var elapsed = new PeriodicTimer(period);
        await elapsed.WaitForNextTickAsync();
        return count();
    }

    /// <summary>TCP connections the process's network namespace has tried to open (<c>/proc/net/snmp</c>, Tcp ActiveOpens).</summary>
    private static long ActiveOpens(int pid)
    {
        var tcp = File.ReadLines($"/proc/{pid}/net/snmp").Where(l => l.StartsWith("Tcp:")).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        return long.Parse(tcp[1][Array.IndexOf(tcp[0], "ActiveOpens")]);
    }

    public void Dispose()
    {
        _target.Dispose();
        _key.Dispose();
        _otherKey.Dispose();
        foreach (var config in _configs) config.Dispose();
    }
}
