using Akka;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Serilog;
using Serilog.Events;
using TunnelActors.Flow;
using TunnelActors;
using TunnelActors.Configuration;
using TunnelActors.Hosting;
using TunnelActors.Tools.Bench;

namespace TunnelActors.Cli;

/// <summary><c>tunnelactors run</c>: one side until interrupted. Exit 2 for bad configuration or a failed bind.</summary>
internal static class RunSide
{
    public static async Task<int> RunAsync(Func<TunnelConfiguration> load, LogEventLevel level, LogFormat logFormat,
        CancellationToken cancellation)
    {
        var service = new ServiceNotifications();
        TunnelConfiguration configuration;
        try
        {
            configuration = load();
        }
        catch (ConfigurationException e)
        {
            return Fail(service, logFormat, $"configuration error: {e.Message}");
        }

        TunnelHost.ConfigureLogging(level, logFormat);
        try
        {
            // Compiles the datagram path before any peer waits on it (Rehearsal).
            await Rehearsal.RunAsync(configuration, cancellation);
            using var host = TunnelHost.Build(configuration, level);
            await host.StartAsync(cancellation);
            var system = host.Services.GetRequiredService<ActorSystem>();
            var supervisor = await ActorRegistry.For(system).GetAsync<TunnelSupervisor>(cancellation);

            var answer = await supervisor.Ask<object>(TunnelSupervisor.AwaitReady.Instance, configuration.Settings.StartupTimeout, cancellation);
            if (answer is TunnelSupervisor.StartFailed failed)
            {
                await host.StopAsync(CancellationToken.None);
                return Fail(service, logFormat, $"cannot start: {failed.Reason}");
            }
            service.Ready(((TunnelSupervisor.Ready)answer).Endpoints);
            // STOPPING=1 as soon as shutdown begins (SIGTERM, or the side giving up), before sessions are ended.
            CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseBeforeServiceUnbind, "systemd-stopping", () =>
            {
                service.Stopping();
                return Task.FromResult(Done.Instance);
            });
            using var endWatchdog = new CancellationTokenSource();
            var watchdog = service.Enabled && ServiceNotifications.WatchdogInterval(Environment.GetEnvironmentVariable, Environment.ProcessId) is { } interval
                ? service.WatchdogAsync(interval, async within => await supervisor.Ask<object>(TunnelSupervisor.GetCounters.Instance, within) is not null,
                    endWatchdog.Token)
                : Task.CompletedTask;

            // Ends on Ctrl+C / SIGTERM (the host or Akka's CLR hook shuts down) or when the side gives up by itself.
            var stopped = supervisor.WatchAsync(CancellationToken.None);
            var interrupted = Task.Delay(Timeout.Infinite, cancellation);
            await Task.WhenAny(stopped, interrupted, host.WaitForShutdownAsync(CancellationToken.None));
            await endWatchdog.CancelAsync();
            await watchdog;
            var requested = cancellation.IsCancellationRequested || CoordinatedShutdown.Get(system).ShutdownReason is not null;
            await host.StopAsync(CancellationToken.None);
            if (requested) return 0;
            // The side stopped by itself: say why in one line, as a failed start does.
            var reason = SideResources.For(system).StopReason ?? "an endpoint stopped for good";
            service.Failed(reason);
            // After the log's last lines, which its writer thread may still hold.
            await Log.CloseAndFlushAsync();
            Console.Error.WriteLine(LogFormats.ErrorLine(logFormat, $"tunnelactors: stopped: {reason}"));
            return 1;
        }
        catch (AskTimeoutException)
        {
            return Fail(service, logFormat, "cannot start: start-up timed out (tunnel.startup-timeout)");
        }
        finally
        {
            await Log.CloseAndFlushAsync();
        }
    }

    private static int Fail(ServiceNotifications service, LogFormat format, string reason)
    {
        service.Failed(reason);
        Log.CloseAndFlush();
        Console.Error.WriteLine(LogFormats.ErrorLine(format, $"tunnelactors: {reason}"));
        return 2;
    }
}
