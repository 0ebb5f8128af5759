using Akka;
using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Serilog;
using Serilog.Events;
using Serilog.Sinks.SystemConsole.Themes;
using TunnelActors;
using TunnelActors.Configuration;
using TunnelActors.Transport;

namespace TunnelActors.Hosting;

/// <summary>Wires one side: Serilog, the Akka.NET actor system under Akka.Hosting, and the tunnel supervisor.</summary>
public static class TunnelHost
{
    public const string SystemName = "tunnelactors";

    /// <summary>Lines waiting for the writer; past them a line is dropped rather than a datagram thread held.</summary>
    private const int LogQueueLines = 10_000;

    /// <summary>
    /// Logs to stderr in <paramref name="format"/>, from a writer thread of its own: an event is made on the thread that
    /// logs it (<see cref="SerilogEventLogger"/>), often a datagram thread, which must not wait for the console or the
    /// journal. The queue is drained by <see cref="Log.CloseAndFlushAsync"/> as the program ends.
    /// </summary>
    public static void ConfigureLogging(LogEventLevel level, LogFormat format = LogFormat.Text)
    {
        var logging = new LoggerConfiguration()
            .MinimumLevel.Is(level)
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            .Enrich.FromLogContext();
        // The journal stamps each line itself and reads a leading <N> as its syslog priority.
        if (format == LogFormat.Journal) logging = logging.Enrich.With<SyslogPriority>();
        Log.Logger = logging.WriteTo.Async(sink => _ = format switch
            {
                LogFormat.Json => sink.Console(new Serilog.Formatting.Compact.CompactJsonFormatter(), standardErrorFromLevel: LogEventLevel.Verbose),
                LogFormat.Journal => sink.Console(outputTemplate: "<{" + SyslogPriority.Property + "}>{Level:u3} {Message:lj}{NewLine}{Exception}",
                    theme: ConsoleTheme.None, standardErrorFromLevel: LogEventLevel.Verbose),
                _ => sink.Console(outputTemplate: "{Timestamp:HH:mm:ss.fff} {Level:u3} {Message:lj}{NewLine}{Exception}",
                    standardErrorFromLevel: LogEventLevel.Verbose),
            }, bufferSize: LogQueueLines, blockWhenFull: false)
            .CreateLogger();
    }

    /// <summary>Akka's logging at the level that matches a Serilog level.</summary>
    private static Config LogLevelConfig(LogEventLevel level) => ConfigurationFactory.ParseString(SerilogEventLogger.Configuration(level switch
    {
        LogEventLevel.Verbose or LogEventLevel.Debug => "DEBUG",
        LogEventLevel.Information => "INFO",
        LogEventLevel.Warning => "WARNING",
        _ => "ERROR",
    }));

    public static IHost Build(TunnelConfiguration configuration, LogEventLevel level)
    {
        // No default configuration sources, file watchers or logging providers: the side is configured by
        // HOCON and logs through Serilog, and each of those defaults costs memory in a process that idles.
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSerilog();
        builder.Services.AddAkka(SystemName, (akka, _) =>
        {
            akka.AddHocon(LogLevelConfig(level).WithFallback(configuration.Config), HoconAddMode.Prepend);
            akka.WithActors((system, registry) =>
            {
                var supervisor = system.ActorOf(TunnelSupervisor.Props(configuration.Settings), "tunnel");
                registry.Register<TunnelSupervisor>(supervisor);
                CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseServiceUnbind, "tunnel-release-sockets",
                    async () =>
                    {
                        try
                        {
                            await supervisor.GracefulStop(TimeSpan.FromSeconds(5), Shutdown.Instance);
                        }
                        catch (TaskCanceledException)
                        {
                            // Took too long: the actor system stops what is left.
                        }
                        return Done.Instance;
                    });
            });
        });
        return builder.Build();
    }
}
