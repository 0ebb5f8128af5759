using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace TunnelActors.Tests.Support;

/// <summary>
/// <c>tunnelactors run</c> as a real process: the ports it bound (read from its log, so it can bind port 0),
/// its log, its resident memory, and a stop by SIGTERM that waits for its last lines.
/// </summary>
public sealed class SideProcess : IAsyncDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private const string UdpMarker = "Listening for UDP on ";
    private const string TcpMarker = "Listening for tunnel connections on ";
    private const string MetricsMarker = "Serving metrics on http://";

    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly StringBuilder _stdout = new();
    private readonly TaskCompletionSource<int> _udpPort = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<int> _tcpPort = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> _metrics = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<(string Text, TaskCompletionSource Seen)> _awaited = [];
    private HttpClient? _http;

    private SideProcess(string? networkNamespace, string[] args, IReadOnlyDictionary<string, string>? environment = null)
        : this(ProgramProcess.StartIn(networkNamespace, ["run", .. args], environment))
    {
    }

    private SideProcess(Process process)
    {
        _process = process;
        _process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        _process.BeginErrorReadLine();
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null) lock (_log) _stdout.AppendLine(e.Data);
            OnLine(e.Data);
        };
        _process.BeginOutputReadLine();
    }

    /// <summary>Starts <c>tunnelactors run</c> with <paramref name="args"/>.</summary>
    public static SideProcess Start(params string[] args) => new(null, args);

    /// <summary>Starts <c>tunnelactors run</c> through the native launcher, as the program runs once installed.</summary>
    public static SideProcess StartLauncher(params string[] args) => new(ProgramProcess.StartLauncher(["run", .. args]));

    /// <summary>Starts <c>tunnelactors run</c> with these environment variables added to the test's own.</summary>
    public static SideProcess StartWith(IReadOnlyDictionary<string, string> environment, params string[] args) => new(null, args, environment);

    /// <summary>Starts <c>tunnelactors run</c> inside a network namespace of the test's own.</summary>
    public static SideProcess StartIn(NetworkNamespace ns, params string[] args) => new(ns.Name, args);

    /// <summary>Starts <c>tunnelactors run</c> inside the test's own network namespace of that name.</summary>
    public static SideProcess StartIn(string networkNamespace, params string[] args) => new(networkNamespace, args);

    public string Log
    {
        get { lock (_log) return _log.ToString(); }
    }

    /// <summary>What the side wrote to standard output: nothing, for a side that logs to stderr as it should.</summary>
    public string Stdout
    {
        get { lock (_log) return _stdout.ToString(); }
    }

    public bool HasExited => _process.HasExited;

    public int ProcessId => _process.Id;

    public int ExitCode => _process.ExitCode;

    /// <summary>The UDP port the side listens on, once it has said so.</summary>
    public Task<int> UdpPortAsync() => WithLog(_udpPort.Task.WaitAsync(Wait), "listen on UDP");

    /// <summary>The TCP port the side takes tunnel connections on, once it has said so.</summary>
    public Task<int> TcpPortAsync() => WithLog(_tcpPort.Task.WaitAsync(Wait), "listen on TCP");

    /// <summary>Where the side serves /metrics and /healthz (address:port), once it has said so.</summary>
    public Task<string> MetricsEndpointAsync() => WithLog(_metrics.Task.WaitAsync(Wait), "serve metrics");

    /// <summary>Completes when a line containing <paramref name="text"/> has been logged.</summary>
    public Task LoggedAsync(string text)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_log)
        {
            if (_log.ToString().Contains(text, StringComparison.Ordinal)) seen.TrySetResult();
            else _awaited.Add((text, seen));
        }
        return WithLog(seen.Task.WaitAsync(Wait), $"log \"{text}\"");
    }

    /// <summary>One sample of the side's /metrics: <c>tunnelactors_drops{reason="source-limit",…} 5</c> is drops, its labels, 5.</summary>
    public sealed record MetricSample(string Instrument, IReadOnlyDictionary<string, string> Labels, double Value);

    /// <summary>What the side's /metrics serves now (the side must have been started with <c>--metrics</c>).</summary>
    public async Task<IReadOnlyList<MetricSample>> MetricsAsync()
    {
        _http ??= new HttpClient { BaseAddress = new Uri($"http://{await MetricsEndpointAsync()}"), Timeout = Wait };
        const string prefix = "tunnelactors_";
        var samples = new List<MetricSample>();
        foreach (var line in (await _http.GetStringAsync("/metrics")).Split('\n'))
        {
            if (!line.StartsWith(prefix, StringComparison.Ordinal)) continue;
            var labelsAt = line.IndexOf('{');
            var valueAt = line.LastIndexOf(' ');
            var name = line[prefix.Length..(labelsAt >= 0 ? labelsAt : valueAt)];
            var labels = new Dictionary<string, string>();
            if (labelsAt >= 0)
                foreach (var pair in line[(labelsAt + 1)..line.LastIndexOf('}')].Split("\",", StringSplitOptions.RemoveEmptyEntries))
                {
                    var (key, value) = (pair[..pair.IndexOf('=')], pair[(pair.IndexOf('=') + 1)..].Trim('"'));
                    labels[key] = value;
                }
            samples.Add(new MetricSample(name, labels, double.Parse(line[(valueAt + 1)..], CultureInfo.InvariantCulture)));
        }
        return samples;
    }

    /// <summary>
    /// The current value of an instrument on /metrics (<c>connections.refused</c>), summed over the samples whose labels
    /// include every one of <paramref name="tags"/> (<c>("reason", "source-limit")</c>).
    /// </summary>
    public async Task<long> MetricAsync(string instrument, params (string Key, string Value)[] tags)
    {
        var name = instrument.Replace('.', '_').Replace('-', '_');
        return (long)(await MetricsAsync()).Where(s => s.Instrument == name && tags.All(t => s.Labels.GetValueOrDefault(t.Key) == t.Value)).Sum(s => s.Value);
    }

    public long ResidentBytes =>
        long.Parse(File.ReadLines($"/proc/{_process.Id}/status").First(l => l.StartsWith("VmRSS:")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;

    /// <summary>Waits for the side to exit by itself.</summary>
    public Task WaitForExitAsync(CancellationToken cancellation) => _process.WaitForExitAsync(cancellation);

    /// <summary>SIGKILL, as a crash or the OOM killer would: no goodbye on any socket beyond what the kernel does.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        using var cancel = new CancellationTokenSource(Wait);
        await _process.WaitForExitAsync(cancel.Token);
    }

    /// <summary>SIGTERM (or another signal), then waits for the exit: the side logs its counters as it stops.</summary>
    public async Task StopAsync(string signal = "TERM")
    {
        if (_process.HasExited) return;
        await Command.SignalAsync(_process, signal);
        using var cancel = new CancellationTokenSource(Wait);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            throw new TimeoutException($"the side did not stop within {Wait} of SIGTERM: {Log}");
        }
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        lock (_log)
        {
            _log.AppendLine(line);
            if (PortAfter(line, UdpMarker) is { } udp) _udpPort.TrySetResult(udp);
            if (PortAfter(line, TcpMarker) is { } tcp) _tcpPort.TrySetResult(tcp);
            if (line.IndexOf(MetricsMarker, StringComparison.Ordinal) is var at and >= 0)
                _metrics.TrySetResult(line[(at + MetricsMarker.Length)..].Split('/')[0]);
            foreach (var awaited in _awaited.Where(a => line.Contains(a.Text, StringComparison.Ordinal)).ToList())
            {
                awaited.Seen.TrySetResult();
                _awaited.Remove(awaited);
            }
        }
    }

    private static int? PortAfter(string line, string marker)
    {
        var at = line.IndexOf(marker, StringComparison.Ordinal);
        if (at < 0) return null;
        // A plain line ends with the endpoint; in a JSON line the marker is a template's, and what follows no port.
        var endpoint = line[(at + marker.Length)..].Trim();
        return int.TryParse(endpoint[(endpoint.LastIndexOf(':') + 1)..], out var port) ? port : null;
    }

    private async Task<T> WithLog<T>(Task<T> task, string what)
    {
        try
        {
            return await task;
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"the side did not {what}: {Log}");
        }
    }

    private async Task WithLog(Task task, string what)
    {
        try
        {
            await task;
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"the side did not {what}: {Log}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.Dispose();
            _http?.Dispose();
        }
    }
}
