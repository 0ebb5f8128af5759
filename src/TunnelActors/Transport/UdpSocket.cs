using System.Net;
using Akka.Actor;
using Akka.IO;
using TunnelActors.Configuration;

namespace TunnelActors.Transport;

/// <summary>
/// One UDP socket bound through Akka.IO for the actor that handles its datagrams, with what Akka.IO 1.5.74 leaves
/// to its user done here: a failed bind answers <c>CommandFailed</c> and then a <c>Bound</c> for no address (told
/// apart); Akka.IO's socket actor closes its socket on stop only if it is connected, so a handler that stops
/// without an acknowledged unbind, or whose bind lands after it stopped, would leave the port bound for good
/// (<see cref="Release"/> closes it); and a socket actor that dies is not restarted and leaves its socket open
/// (closed when <see cref="Interpret"/> sees it die).
/// </summary>
/// <param name="manager">Who binds: the side's <see cref="DatagramManager"/> or Akka.IO's <c>Context.System.Udp()</c>, one protocol.</param>
internal sealed class UdpSocket(UdpTunnelSettings settings, IActorRef manager)
{
    public enum Event
    {
        /// <summary>Not about this socket.</summary>
        None,
        Bound,
        BindFailed,
        Unbound,
        /// <summary>Its actor stopped unasked; the socket is closed.</summary>
        Died,
    }

    private readonly SocketCapture _capture = new(settings);
    private IActorRef? _actor;
    private bool _binding;

    /// <summary>Bound, or a bind still on its way: something to release.</summary>
    public bool Held => _binding || _actor is not null;

    public void Bind(IActorContext owner, IPEndPoint local)
    {
        _binding = true;
        manager.Tell(new Udp.Bind(owner.Self, local, [_capture]), owner.Self);
    }

    /// <summary>What a message means for this socket: call it for every message the owner gets.</summary>
    public Event Interpret(IActorContext owner, object message, IActorRef sender)
    {
        switch (message)
        {
            case Udp.Bound { LocalAddress: null }:
                return Event.None;
            case Udp.Bound:
                _binding = false;
                _actor = owner.Watch(sender);
                return Event.Bound;
            case Udp.CommandFailed { Cmd: Udp.Bind }:
                _binding = false;
                return Event.BindFailed;
            case Udp.Unbound:
                if (_actor is not null) owner.Unwatch(_actor);
                _actor = null;
                return Event.Unbound;
            case Terminated t when t.ActorRef.Equals(_actor):
                _actor = null;
                _capture.CloseOrphaned();
                return Event.Died;
            default:
                return Event.None;
        }
    }

    /// <summary>Asks Akka.IO to unbind (answered by <see cref="Event.Unbound"/>); a bind still on its way is released when it lands.</summary>
    public void Unbind() => _actor?.Tell(Udp.Unbind.Instance);

    /// <summary>A sink towards <paramref name="destination"/> on this socket (a peer, which a log may not name, or the configured target).</summary>
    public UdpSink SinkTo(IPEndPoint destination, bool peer) => _capture.SinkTo(destination, peer);

    /// <summary>From the owner's PostStop: however it stops, the socket goes with it, now or when a bind in flight lands.</summary>
    public void Release()
    {
        _actor?.Tell(Udp.Unbind.Instance);
        _capture.Close();
    }
}
