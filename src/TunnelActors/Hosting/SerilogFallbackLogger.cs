using Akka.Event;
using Serilog.Events;

namespace TunnelActors.Hosting;

/// <summary>
/// What Akka.NET logs while its loggers are not running (the first instants of start-up, and once it has stopped
/// them at termination, which can overtake the last lines of a stopping side) goes to Serilog as well, never to
/// stdout in Akka's own format: stdout is the program's, and a side's log has one format.
/// </summary>
public sealed class SerilogFallbackLogger : MinimalLogger
{
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
        Serilog.Log.Logger.Write(level, e.Cause, "{Message}", e.Message);
    }
}
