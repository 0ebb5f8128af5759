using Akka.Actor;
using TunnelActors.Links;

namespace TunnelActors.Sessions;

/// <summary>
/// Ends a session after <c>session.idle-timeout</c> without a datagram either way. Traffic only stamps the
/// time (<see cref="ActivityStamp"/>); one timer checks it and re-arms for the remainder.
/// </summary>
internal sealed class IdleClock(TimeSpan timeout, ITimerScheduler timers, ActivityStamp activity)
{
    /// <summary>The timer's message; hand it to <see cref="Expired"/>.</summary>
    public sealed class Check
    {
        public static readonly Check Instance = new();
        private Check() { }
    }

    public string Reason => $"idle for {timeout.TotalSeconds:0.#} s";

    public void Start()
    {
        activity.Touch();
        if (timeout > TimeSpan.Zero) timers.StartSingleTimer(Check.Instance, Check.Instance, timeout);
    }

    /// <summary>On <see cref="Check"/>: true when the session has been idle for the whole timeout.</summary>
    public bool Expired()
    {
        var idle = TimeSpan.FromMilliseconds(Environment.TickCount64 - activity.Last);
        if (idle >= timeout) return true;
        timers.StartSingleTimer(Check.Instance, Check.Instance, timeout - idle);
        return false;
    }
}
