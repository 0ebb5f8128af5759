using System.Net;
using Akka.Actor;
using Akka.Configuration;
using TunnelActors;
using TunnelActors.Configuration;
using TunnelActors.Endpoints;
using TunnelActors.Hosting;
using TunnelActors.Observability;
using TunnelActors.Transport;
using TunnelActors.Tools.Bench;

namespace TunnelActors.Tools;

/// <summary>A side that could not start: a socket did not bind, or start-up took too long.</summary>
public sealed class TunnelStartException(string reason) : Exception(reason);

/// <summary>
/// One side of the tunnel in its own actor system, without the generic host: what the demo and the tests
/// run. <c>tunnelactors run</c> builds the same supervisor through <see cref="TunnelHost"/>.
/// </summary>
public sealed class TunnelSide : IAsyncDisposable
{
    private TunnelSide(ActorSystem system, IActorRef supervisor, IReadOnlyDictionary<string, EndPoint> endpoints)
    {
        System = system;
        Supervisor = supervisor;
        Endpoints = endpoints;
    }

    public ActorSystem System { get; }
    public IActorRef Supervisor { get; }
    public IReadOnlyDictionary<string, EndPoint> Endpoints { get; }

    /// <summary>Where the UDP-listen side accepts datagrams.</summary>
    public IPEndPoint UdpEndpoint => (IPEndPoint)Endpoints[UdpListenEndpoint.Name];

    /// <summary>Where the TCP-listen side accepts connections (or, on a connect side, where it dials).</summary>
    public IPEndPoint TcpEndpoint => (IPEndPoint)Endpoints[TcpAcceptor.Name];

    public static async Task<TunnelSide> StartAsync(string name, TunnelConfiguration configuration, Config? overrides = null)
    {
        var config = (overrides ?? Config.Empty).WithFallback(configuration.Config);
        config = ConfigurationFactory.ParseString(SerilogEventLogger.Configuration(config.GetString("akka.loglevel", "INFO"))).WithFallback(config);
        var system = ActorSystem.Create(name, config);
        var supervisor = system.ActorOf(TunnelSupervisor.Props(configuration.Settings), "tunnel");
        try
        {
            var answer = await supervisor.Ask<object>(TunnelSupervisor.AwaitReady.Instance, configuration.Settings.StartupTimeout);
            return answer switch
            {
                TunnelSupervisor.Ready ready => new TunnelSide(system, supervisor, ready.Endpoints),
                TunnelSupervisor.StartFailed failed => throw new TunnelStartException(failed.Reason),
                _ => throw new TunnelStartException($"unexpected answer {answer}"),
            };
        }
        catch (Exception e)
        {
            await system.Terminate();
            if (e is AskTimeoutException) throw new TunnelStartException("start-up timed out (tunnel.startup-timeout)");
            throw;
        }
    }

    public Task<TrafficCounters> CountersAsync() =>
        Supervisor.Ask<TrafficCounters>(TunnelSupervisor.GetCounters.Instance, TimeSpan.FromSeconds(5));

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Supervisor.GracefulStop(TimeSpan.FromSeconds(5), Shutdown.Instance);
        }
        catch (TaskCanceledException)
        {
            // Terminating the system stops whatever did not finish.
        }
        await System.Terminate();
    }
}
