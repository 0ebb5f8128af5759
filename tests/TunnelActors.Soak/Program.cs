using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using TunnelActors.Soak;

// build.ps1 soak: a keyed seed-deployment pair under steady load with periodic faults; see docs/reliability.md.
var options = Options.Parse(args);
if (!OperatingSystem.IsLinux() || Environment.UserName != "root") return Fail("the soak makes a network namespace: run it as root on Linux");
Directory.CreateDirectory(options.Results);
await using var logFile = new StreamWriter(Path.Combine(options.Results, "processes.log")) { AutoFlush = true };
var log = TextWriter.Synchronized(logFile);

var keyFile = Path.Combine(options.Results, "soak.key");
File.WriteAllText(keyFile, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)));
File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);

using var ns = Netns.Create();
var udpPort = FreePort(IPAddress.Loopback, SocketType.Dgram);
var tcpPort = FreePort(ns.HostAddress, SocketType.Stream);
var metricsPort = FreePort(IPAddress.Loopback, SocketType.Stream);
const int EchoPort = 5001; // inside the soak's own namespace, where nothing else runs
var tunnel = new IPEndPoint(IPAddress.Loopback, udpPort);

using var echo = SideProcess.Start("echo", log, ns.Name, options.TunnelActors, "bench", "echo", "--bind", $"127.0.0.1:{EchoPort}");
using var nat = SideProcess.Start("nat", log, null, options.TunnelActors, "run", "--udp-listen", tunnel.ToString(),
    "--tcp-listen", $"{ns.HostAddress}:{tcpPort}", "--psk-file", keyFile, "--metrics", $"127.0.0.1:{metricsPort}");
SideProcess StartRelay() => SideProcess.Start("relay", log, ns.Name, options.TunnelActors, "run", "--tcp-connect", $"{ns.HostAddress}:{tcpPort}",
    "--udp-forward", $"127.0.0.1:{EchoPort}", "--psk-file", keyFile, "--pool-size", "8");
var relay = StartRelay();
var metrics = new Metrics(new Uri($"http://127.0.0.1:{metricsPort}/"));
if (!await Eventually(async () => await metrics.ReadAsync("tunnelactors_connections_pooled") >= 8, TimeSpan.FromSeconds(60)))
    return Fail("the pair did not come up; see " + Path.Combine(options.Results, "processes.log"));

Console.Error.WriteLine($"soak: {options.Minutes} min, {options.Peers} peers × {options.Rate}/s, a fault every {options.FaultEvery} s; log in {options.Results}");
var clock = Stopwatch.StartNew();
var windows = new List<Fault>();
var bursts = new List<Peer>();
var samples = new List<Sample>();
using var load = new SteadyLoad(tunnel, options.Peers, options.Rate);
var faults = new Func<Task<string>>[]
{
    async () => { relay.Kill(); relay.Dispose(); await Task.Delay(2000); relay = StartRelay(); return "relay host killed (SIGKILL), restarted 2 s later"; },
    async () => { ns.SetLink(false); await Task.Delay(5000); ns.SetLink(true); return "link down for 5 s"; },
    async () => { await Garbage(new IPEndPoint(ns.HostAddress, tcpPort), 200); return "200 connections of random bytes to the NAT side"; },
    async () =>
    {
        var burst = Enumerable.Range(0, 100).Select(_ => new Peer(tunnel)).ToList();
        lock (bursts) bursts.AddRange(burst);
        for (var i = 0; i < 5; i++) { foreach (var peer in burst) peer.Send(); await Task.Delay(200); }
        return "100 new peers at once";
    },
};

var end = TimeSpan.FromMinutes(options.Minutes);
var nextSample = TimeSpan.Zero;
var nextFault = TimeSpan.FromSeconds(options.FaultEvery / 2.0);
var faultIndex = 0;
Task? running = null;
while (clock.Elapsed < end)
{
    if (clock.Elapsed >= nextSample)
    {
        samples.Add(new Sample(clock.Elapsed, await metrics.ReadAsync("tunnelactors_sessions_active"), await metrics.ReadAsync("tunnelactors_sessions_reconnected"),
            nat.RssKib, nat.OpenFiles, relay.RssKib, relay.OpenFiles));
        nextSample += TimeSpan.FromSeconds(options.Interval);
    }
    if (clock.Elapsed >= nextFault && (running is null || running.IsCompleted) && clock.Elapsed < end - TimeSpan.FromSeconds(30))
    {
        var start = clock.Elapsed;
        var fault = faults[faultIndex++ % faults.Length];
        running = Task.Run(async () =>
        {
            var what = await fault();
            lock (windows) windows.Add(new Fault(what, start, clock.Elapsed, clock.Elapsed + options.Recovery));
            Console.Error.WriteLine($"{start.TotalSeconds,6:0} s  {what}");
        });
        nextFault += TimeSpan.FromSeconds(options.FaultEvery);
    }
    await Task.Delay(200);
}
if (running is not null) await running;
load.StopSending();
await Task.Delay(TimeSpan.FromSeconds(5)); // the last echoes
samples.Add(new Sample(clock.Elapsed, await metrics.ReadAsync("tunnelactors_sessions_active"), await metrics.ReadAsync("tunnelactors_sessions_reconnected"),
    nat.RssKib, nat.OpenFiles, relay.RssKib, relay.OpenFiles));

var startTicks = Stopwatch.GetTimestamp() - (long)(clock.Elapsed.TotalSeconds * Stopwatch.Frequency);
TimeSpan At(long ticks) => TimeSpan.FromSeconds((ticks - startTicks) / (double)Stopwatch.Frequency);
var steady = load.Peers.SelectMany(p => p.Outcomes()).Select(o => (At: At(o.SentAt), o.Echoed)).ToList();
var burstOutcomes = bursts.SelectMany(p => p.Outcomes()).Select(o => (At: At(o.SentAt), o.Echoed)).ToList();
bool InWindow(TimeSpan at) => windows.Any(w => at >= w.Start - TimeSpan.FromSeconds(1) && at <= w.RecoveredBy);

nat.Stop();
relay.Stop();
echo.Stop();
foreach (var peer in bursts) peer.Dispose();
var report = new Report(options, windows, samples, steady, burstOutcomes, InWindow);
report.Write();
Console.Error.WriteLine(report.Verdict);
return report.Passed ? 0 : 1;

static int Fail(string why)
{
    Console.Error.WriteLine($"soak: {why}");
    return 2;
}

static int FreePort(IPAddress address, SocketType type)
{
    using var socket = new Socket(address.AddressFamily, type, type == SocketType.Dgram ? ProtocolType.Udp : ProtocolType.Tcp);
    socket.Bind(new IPEndPoint(address, 0));
    return ((IPEndPoint)socket.LocalEndPoint!).Port;
}

static async Task<bool> Eventually(Func<Task<bool>> condition, TimeSpan timeout)
{
    var clock = Stopwatch.StartNew();
    while (clock.Elapsed < timeout)
    {
        if (await condition()) return true;
        await Task.Delay(200);
    }
    return false;
}

static async Task Garbage(IPEndPoint target, int count)
{
    var sockets = new List<Socket>();
    try
    {
        for (var i = 0; i < count; i++)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            sockets.Add(socket);
            try
            {
                await socket.ConnectAsync(target);
                await socket.SendAsync(RandomNumberGenerator.GetBytes(64));
            }
            catch (SocketException) { } // refused: counted by the side
        }
        await Task.Delay(2000);
    }
    finally
    {
        foreach (var socket in sockets) socket.Dispose();
    }
}

internal sealed record Fault(string What, TimeSpan Start, TimeSpan End, TimeSpan RecoveredBy);

internal sealed record Sample(TimeSpan At, long Sessions, long Reconnected, long NatRssKib, int NatFiles, long RelayRssKib, int RelayFiles);

/// <summary>Reads one figure from the NAT side's /metrics (summed over its tags); -1 when it cannot.</summary>
internal sealed partial class Metrics(Uri baseAddress)
{
    private readonly HttpClient _http = new() { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(5) };

    public async Task<long> ReadAsync(string name)
    {
        try
        {
            var text = await _http.GetStringAsync("metrics");
            return Regex.Matches(text, $@"^{name}(?:\{{[^}}]*\}})? (\S+)$", RegexOptions.Multiline)
                .Sum(m => (long)double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return -1;
        }
    }
}
