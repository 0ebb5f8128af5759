using System.Net;
using Akka.Actor;
using Akka.Event;
using TunnelActors.Configuration;

namespace TunnelActors.Transport;

/// <summary>
/// The bind state of a listening endpoint's Akka.IO socket: at most one bind in flight and one socket bound
/// (a restarted endpoint must never hold two), each bind and failure reported to the supervisor, failed binds
/// retried with <c>tunnel.rebind</c> backoff until <c>max-retries</c> (0 = never give up), a socket actor that
/// dies watched and bound again, and, once <see cref="Release"/>d, an acknowledged unbind of whatever is
/// bound or still binding.
/// </summary>
/// <param name="closeOrphaned">Closes the socket after its actor died: Akka.IO's UDP socket actor leaves it open.</param>
internal sealed class ListenSocket(
    string name, BackoffSettings backoff, IWithTimers owner, ILoggingAdapter log, Action sendBind, object unbindCommand, Action? closeOrphaned = null)
{
    /// <summary>The timer's message: hand it to <see cref="Bind"/>.</summary>
    public sealed class Rebind
    {
        public static readonly Rebind Instance = new();
        private Rebind() { }
    }

    /// <summary>How long a restarted endpoint waits for its old socket's unbind before binding anyway.</summary>
    private static readonly TimeSpan UnbindWait = TimeSpan.FromSeconds(2);

    private bool _binding;
    private bool _releasing;
    private int _failures;
    private IActorRef? _socket;

    private ITimerScheduler Timers => owner.Timers;

    /// <summary>Neither bound nor binding: nothing left to release.</summary>
    public bool Released => !_binding && _socket is null;

    public void Bind()
    {
        if (_releasing || _binding || _socket is not null) return;
        _binding = true;
        sendBind();
    }

    /// <summary>
    /// After a restart: the old incarnation's unbind (sent from <see cref="UnbindOnStop"/>) is answered to this
    /// same reference, so bind on <see cref="Unbound"/>, or after a short wait if no answer comes.
    /// </summary>
    public void BindAfterRestart() => Timers.StartSingleTimer(Rebind.Instance, Rebind.Instance, UnbindWait);

    /// <summary>On Akka.IO's <c>Bound</c>; false when it bound nothing.</summary>
    public bool Bound(IActorContext context, IActorRef socket, EndPoint? local)
    {
        // Akka.IO 1.5.74 follows a failed UDP bind's CommandFailed with a Bound for no address.
        if (local is null) return false;
        _binding = false;
        _socket = socket;
        context.Watch(socket);
        if (_releasing)
        {
            socket.Tell(unbindCommand);
            return false;
        }
        _failures = 0;
        context.Parent.Tell(new EndpointBound(name, local));
        return true;
    }

    /// <summary>Reports the failure and schedules a retry; false when the endpoint should give up.</summary>
    public bool Failed(IActorContext context, string reason)
    {
        _binding = false;
        if (_releasing) return true;
        context.Parent.Tell(new EndpointBindFailed(name, reason));
        if (backoff.GivesUpAfter(++_failures))
        {
            log.Error("{0}; giving up after {1} attempts (tunnel.rebind.max-retries)", reason, _failures);
            return false;
        }
        var delay = backoff.Delay(_failures - 1);
        log.Warning("{0}; retrying in {1:0.0} s", reason, delay.TotalSeconds);
        Timers.StartSingleTimer(Rebind.Instance, Rebind.Instance, delay);
        return true;
    }

    /// <summary>Whether <paramref name="actor"/> is the bound socket's actor (route its <c>Terminated</c> to <see cref="Died"/>).</summary>
    public bool Owns(IActorRef actor) => actor.Equals(_socket);

    /// <summary>
    /// The socket's actor stopped unasked (it failed, and Akka.IO does not restart socket actors): the socket
    /// is closed and the endpoint deaf. Tell the supervisor and bind again.
    /// </summary>
    public void Died(IActorContext context)
    {
        _socket = null;
        closeOrphaned?.Invoke();
        context.Parent.Tell(new EndpointLost(name));
        if (_releasing) return;
        log.Warning("The {0} socket's actor stopped; binding it again", name);
        Bind();
    }

    /// <summary>On Akka.IO's <c>Unbound</c>: the socket is gone; bind again unless releasing.</summary>
    public void Unbound(IActorContext context)
    {
        if (_socket is not null) context.Unwatch(_socket);
        _socket = null;
        Timers.Cancel(Rebind.Instance);
        Bind();
    }

    /// <summary>Stop binding and unbind what is bound; a bind still in flight is unbound when it lands.</summary>
    public void Release()
    {
        _releasing = true;
        Timers.Cancel(Rebind.Instance);
        _socket?.Tell(unbindCommand);
    }

    /// <summary>From PostStop (also before a restart): the socket actor keeps delivering to this reference otherwise.</summary>
    public void UnbindOnStop() => _socket?.Tell(unbindCommand);
}
