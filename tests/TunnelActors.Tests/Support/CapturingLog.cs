using Akka.Event;

namespace TunnelActors.Tests.Support;

/// <summary>A logging adapter that keeps the lines, formatted, in the order they were logged.</summary>
public sealed class CapturingLog : ILoggingAdapter
{
    public List<string> Lines { get; } = [];
    public ILogMessageFormatter Formatter => DefaultLogMessageFormatter.Instance;
    public bool IsDebugEnabled => true;
    public bool IsInfoEnabled => true;
    public bool IsWarningEnabled => true;
    public bool IsErrorEnabled => true;
    public bool IsEnabled(LogLevel logLevel) => true;
    public void Log(LogLevel logLevel, Exception cause, string format) => Lines.Add(format);
    public void Log(LogLevel logLevel, Exception cause, LogMessage message) => Lines.Add(message.ToString() ?? "");
}
