using Akka.Event;
using Serilog.Events;

namespace TunnelActors.Hosting;

/// <summary>
/// Akka.NET's log events, written to Serilog on the thread that logs them. Akka's usual logger is an actor: the events
/// wait in its mailbox (unbounded), and at termination Akka stops it right after the last user actor, dropping what is
/// still queued, so the last lines of a stopping side (its totals, the sessions ended by the shutdown) could be lost.
/// Configured as Akka's stdout logger and named in <c>akka.loggers</c> as that (<see cref="Configuration"/>), it is
/// subscribed from the system's start to its end, and nothing of Akka's goes to stdout in Akka's own format: stdout is
/// the program's, and a side's log has one format.
/// </summary>
public sealed class SerilogEventLogger : MinimalLogger
{
    /// <summary>The HOCON that makes this the system's one logger, at <paramref name="level"/> (Akka's level name).</summary>
    public static string Configuration(string level) => $"""
        akka.loglevel = {level}
        akka.stdout-loglevel = {level}
        akka.loggers = ["{typeof(StandardOutLogger).AssemblyQualifiedName}"]
        akka.stdout-logger-class = "{typeof(SerilogEventLogger).AssemblyQualifiedName}"
        """;

    protected override void Log(object message)
    {
        if (message is not Akka.Event.LogEvent e) return;
        var level = e.LogLevel() switch
        {
            LogLevel.DebugLevel => LogEventLevel.Debug,
            LogLevel.InfoLevel => LogEventLevel.Information,
            LogLevel.WarningLevel => LogEventLevel.Warning,
            _ => LogEventLevel.Error,
        };
        var logger = Serilog.Log.Logger;
        if (!logger.IsEnabled(level)) return;
        logger = logger.ForContext("LogSource", e.LogSource);
        if (e.Message is LogMessage m) logger.Write(level, e.Cause, m.Format, m.Parameters().ToArray());
        else logger.Write(level, e.Cause, "{Message:l}", e.Message);
    }
}
