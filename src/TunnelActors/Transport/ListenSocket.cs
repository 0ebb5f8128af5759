using System.Net;
using Akka.Actor;
using Akka.Event;

namespace TunnelActors.Transport;

/// <summary>
/// The bind state of a listening endpoint's Akka.IO socket: at most one bind in flight and one socket bound
/// (a restarted endpoint must never hold two), each bind and failure reported to the supervisor, failed binds
/// retried with <c>tunnel.rebind</c> backoff until <c>max-retries</c> (0 = never give up).
/// </summary>
internal sealed class ListenSocket(string name, BackoffSettings backoff, ITimerScheduler timers, ILoggingAdapter log, Action sendBind)
{
    /// <summary>The timer's message: bind again.</summary>
    public sealed class Rebind
    {
        public static readonly Rebind Instance = new();
        private Rebind() { }
    }

    /// <summary>How long a restarted endpoint waits for its old socket's unbind before binding anyway.</summary>
    private static readonly TimeSpan UnbindWait = TimeSpan.FromSeconds(2);

    private bool _binding;
    private int _failures;

    /// <summary>The Akka.IO actor of the bound socket, if any.</summary>
    public IActorRef? Socket { get; private set; }

    /// <summary>Neither bound nor binding: nothing left to release.</summary>
    public bool Released => !_binding && Socket is null;

    public void Bind()
    {
        if (_binding || Socket is not null) return;
        _binding = true;
        sendBind();
    }

    /// <summary>
    /// After a restart: the old incarnation's unbind is answered to this same reference, so bind on
    /// <see cref="Unbound"/>, or after a short wait if no answer comes.
    /// </summary>
    public void BindAfterRestart() => timers.StartSingleTimer(Rebind.Instance, Rebind.Instance, UnbindWait);

    public void Bound(IActorContext context, IActorRef socket, EndPoint local)
    {
        _binding = false;
        _failures = 0;
        Socket = socket;
        context.Parent.Tell(new EndpointBound(name, local));
    }

    /// <summary>Reports the failure and schedules a retry; false when the endpoint should give up.</summary>
    public bool Failed(IActorContext context, string reason)
    {
        _binding = false;
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

    /// <summary>A bind failed while the endpoint is stopping: nothing to retry.</summary>
    public void Abandon() => _binding = false;

    public void Unbound()
    {
        Socket = null;
        timers.Cancel(Rebind.Instance);
    }
}
