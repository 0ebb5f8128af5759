using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Serilog;
using Serilog.Events;

namespace TunnelActors.Cli;

/// <summary><c>tunnelactors run</c>: one side until interrupted. Exit 2 for bad configuration or a failed bind.</summary>
internal static class RunSide
{
    public static async Task<int> RunAsync(Func<TunnelConfiguration> load, LogEventLevel level, bool jsonLogs,
        CancellationToken cancellation)
    {
        TunnelConfiguration configuration;
        try
        {
            configuration = load();
        }
        catch (ConfigurationException e)
        {
            await Console.Error.WriteLineAsync($"tunnelactors: configuration error: {e.Message}");
            return 2;
        }

        TunnelHost.ConfigureLogging(level, jsonLogs);
        try
        {
            using var host = TunnelHost.Build(configuration, level);
            await host.StartAsync(cancellation);
            var system = host.Services.GetRequiredService<ActorSystem>();
            var supervisor = await ActorRegistry.For(system).GetAsync<TunnelSupervisor>(cancellation);

            var answer = await supervisor.Ask<object>(TunnelSupervisor.AwaitReady.Instance, configuration.Settings.StartupTimeout, cancellation);
            if (answer is TunnelSupervisor.StartFailed failed)
            {
                await host.StopAsync(CancellationToken.None);
                await Console.Error.WriteLineAsync($"tunnelactors: cannot start: {failed.Reason}");
                return 2;
            }

            // Ends on Ctrl+C / SIGTERM (the host or Akka's CLR hook shuts down) or when the side gives up by itself.
            var stopped = supervisor.WatchAsync(CancellationToken.None);
            var interrupted = Task.Delay(Timeout.Infinite, cancellation);
            await Task.WhenAny(stopped, interrupted, host.WaitForShutdownAsync(CancellationToken.None));
            var requested = cancellation.IsCancellationRequested || CoordinatedShutdown.Get(system).ShutdownReason is not null;
            await host.StopAsync(CancellationToken.None);
            return requested ? 0 : 1;
        }
        catch (AskTimeoutException)
        {
            await Console.Error.WriteLineAsync("tunnelactors: cannot start: start-up timed out (tunnel.startup-timeout)");
            return 2;
        }
        finally
        {
            await Log.CloseAndFlushAsync();
        }
    }
}
