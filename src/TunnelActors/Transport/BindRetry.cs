using System.Net;
using Akka.Actor;
using Akka.Event;

namespace TunnelActors.Transport;

/// <summary>
/// The bind bookkeeping of a listening endpoint: reports each bind and each failure to the supervisor, and
/// schedules the next attempt with <c>tunnel.rebind</c> backoff until <c>max-retries</c> (0 = never give up).
/// </summary>
internal sealed class BindRetry(string name, BackoffSettings backoff, ITimerScheduler timers, ILoggingAdapter log)
{
    /// <summary>The timer's message: bind again.</summary>
    public sealed class Rebind
    {
        public static readonly Rebind Instance = new();
        private Rebind() { }
    }

    /// <summary>How long a restarted endpoint waits for its old socket's unbind before binding anyway.</summary>
    private static readonly TimeSpan UnbindWait = TimeSpan.FromSeconds(2);

    private int _failures;

    public void Bound(IActorContext context, EndPoint local)
    {
        _failures = 0;
        context.Parent.Tell(new EndpointBound(name, local));
    }

    /// <summary>Reports the failure and schedules a retry; false when the endpoint should give up.</summary>
    public bool Failed(IActorContext context, string reason)
    {
        context.Parent.Tell(new EndpointBindFailed(name, reason));
        if (backoff.GivesUpAfter(++_failures))
        {
            log.Error("{0}; giving up after {1} attempts (tunnel.rebind.max-retries)", reason, _failures);
            return false;
        }
        var delay = backoff.Delay(_failures - 1);
        log.Warning("{0}; retrying in {1:0.0} s", reason, delay.TotalSeconds);
        timers.StartSingleTimer(Rebind.Instance, Rebind.Instance, delay);
        return true;
    }

    /// <summary>
    /// After a restart the old incarnation's unbind is answered to this same reference: bind on
    /// <see cref="Unbound"/>, or after a short wait if no answer comes.
    /// </summary>
    public void AfterRestart() => timers.StartSingleTimer(Rebind.Instance, Rebind.Instance, UnbindWait);

    public void Unbound() => timers.Cancel(Rebind.Instance);
}
