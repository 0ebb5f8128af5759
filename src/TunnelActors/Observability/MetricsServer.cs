using System.Net;
using System.Net.Sockets;
using System.Text;
using Prometheus;

namespace TunnelActors.Observability;

/// <summary>
/// Serves <c>/metrics</c> (Prometheus text: prometheus-net's adapter of the <c>TunnelActors</c> meter, plus
/// the process's own figures) and <c>/healthz</c> (200 while every endpoint is bound, 503 otherwise) on
/// <c>tunnel.metrics.listen</c>. One request at a time: a scraper needs no more, and a flood gets no more.
/// </summary>
public sealed class MetricsServer
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

    static MetricsServer()
    {
        Metrics.ConfigureMeterAdapter(options => options.InstrumentFilterPredicate = i => i.Meter.Name == TunnelMetrics.MeterName);
        Metrics.SuppressDefaultMetrics(new SuppressDefaultMetricOptions { SuppressEventCounters = true, SuppressDebugMetrics = true });
    }

    private readonly HttpListener _listener;
    private readonly EndpointHealth _health;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _serving;

    private MetricsServer(HttpListener listener, IPEndPoint endpoint, EndpointHealth health)
    {
        _listener = listener;
        _health = health;
        Endpoint = endpoint;
        _serving = Task.Run(ServeAsync);
    }

    /// <summary>Where it listens; a port of 0 asked for is replaced by the one taken.</summary>
    public IPEndPoint Endpoint { get; }

    /// <summary>Starts listening; throws <see cref="HttpListenerException"/> or <see cref="SocketException"/> when it cannot.</summary>
    public static MetricsServer Start(IPEndPoint endpoint, EndpointHealth health)
    {
        if (endpoint.Port == 0) endpoint = new IPEndPoint(endpoint.Address, FreePort(endpoint.Address));
        var any = endpoint.Address.Equals(IPAddress.Any) || endpoint.Address.Equals(IPAddress.IPv6Any);
        var host = any ? "+" : endpoint.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{endpoint.Address}]" : endpoint.Address.ToString();
        var listener = new HttpListener();
        listener.Prefixes.Add($"http://{host}:{endpoint.Port}/");
        listener.Start();
        return new MetricsServer(listener, endpoint, health);
    }

    private static int FreePort(IPAddress address)
    {
        using var probe = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(address, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    private async Task ServeAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            timeout.CancelAfter(RequestTimeout);
            try
            {
                await AnswerAsync(context, timeout.Token);
            }
            catch (Exception e) when (e is HttpListenerException or IOException or OperationCanceledException or ObjectDisposedException)
            {
                // The client went away or was too slow: the next one is served.
                context.Response.Abort();
            }
        }
    }

    private async Task AnswerAsync(HttpListenerContext context, CancellationToken cancellation)
    {
        var response = context.Response;
        if (context.Request.HttpMethod is not ("GET" or "HEAD"))
        {
            response.StatusCode = 405;
            response.Close();
            return;
        }
        switch (context.Request.Url?.AbsolutePath)
        {
            case "/metrics":
                response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
                using (var body = new MemoryStream())
                {
                    await Metrics.DefaultRegistry.CollectAndExportAsTextAsync(body, cancellation);
                    await WriteAsync(response, body.ToArray(), cancellation);
                }
                break;
            case "/healthz":
                var endpoints = _health.Endpoints;
                response.StatusCode = _health.Healthy ? 200 : 503;
                response.ContentType = "text/plain; charset=utf-8";
                var text = endpoints.Count == 0 ? "no endpoint\n" : string.Concat(endpoints.Select(e => $"{e.Key} {(e.Value ? "bound" : "not bound")}\n"));
                await WriteAsync(response, Encoding.UTF8.GetBytes(text), cancellation);
                break;
            default:
                response.StatusCode = 404;
                response.Close();
                break;
        }
    }

    private static async Task WriteAsync(HttpListenerResponse response, byte[] body, CancellationToken cancellation)
    {
        response.ContentLength64 = body.Length;
        await response.OutputStream.WriteAsync(body, cancellation);
        response.Close();
    }

    /// <summary>
    /// Closes the listening socket at once, so the port is free when this returns; a request still being answered
    /// finishes (or times out) on its own. Never waits: it is called from the tunnel supervisor's thread.
    /// </summary>
    public Task Stop()
    {
        _stop.Cancel();
        _listener.Close();
        return _serving.ContinueWith(_ => _stop.Dispose(), TaskScheduler.Default);
    }
}
