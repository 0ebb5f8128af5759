using Serilog.Core;
using Serilog.Events;

namespace TunnelActors.Hosting;

/// <summary>Adds the syslog priority of an event's level, which the journal reads from a line's <c>&lt;N&gt;</c> prefix.</summary>
internal sealed class SyslogPriority : ILogEventEnricher
{
    public const string Property = "SyslogPriority";

    private static readonly LogEventProperty[] Priorities =
        Enum.GetValues<LogEventLevel>().Select(level => new LogEventProperty(Property, new ScalarValue(level switch
        {
            LogEventLevel.Verbose or LogEventLevel.Debug => 7,
            LogEventLevel.Information => 6,
            LogEventLevel.Warning => 4,
            LogEventLevel.Error => 3,
            _ => 2,
        }))).ToArray();

    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory) => logEvent.AddPropertyIfAbsent(Priorities[(int)logEvent.Level]);
}
