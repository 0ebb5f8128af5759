using Akka.Actor;
using Akka.Event;
using Akka.IO;
using TunnelActors.Configuration;
using TunnelActors.Flow;

namespace TunnelActors.Transport;

/// <summary>
/// The side's own UDP sockets (<c>tunnel.udp.io = batched</c>), a child of the tunnel supervisor: answers Akka.IO's
/// <see cref="Udp.Bind"/> with a <see cref="DatagramSocket"/>, so a handler cannot tell it from <c>Context.System.Udp()</c>,
/// and owns the <see cref="DatagramPoller"/>s that receive for them (<c>tunnel.udp.receive-threads</c>): each new socket
/// goes to the one with the fewest, and stays there. A socket actor that fails is stopped (its handler sees it die
/// and binds again), as Akka.IO does with its own.
/// </summary>
public sealed class DatagramManager : UntypedActor
{
    public const string Name = "udp-io";

    private readonly UdpTunnelSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private DatagramPoller[] _pollers = [];
    // Which receive thread each socket actor was given, counted here when it is made: sockets bound in one turn (the
    // listen port's shards) must not all go to the thread that had the fewest before any of them registered.
    private readonly Dictionary<IActorRef, int> _threadOf = new();
    private int[] _sockets = [];

    public DatagramManager(UdpTunnelSettings settings) => _settings = settings;

    public static Props Props(UdpTunnelSettings settings) => Akka.Actor.Props.Create(() => new DatagramManager(settings));

    /// <summary>Whether <c>tunnel.udp.io = batched</c> can be had here; elsewhere the side uses Akka.IO's UDP.</summary>
    public static bool Supported => DatagramPoller.Supported;

    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(e =>
        {
            _log.Error(e, "A UDP socket failed and was closed");
            return Directive.Stop;
        });

    protected override void PreStart()
    {
        var self = Self;
        _pollers = new DatagramPoller[_settings.ReceiveThreads];
        _sockets = new int[_pollers.Length];
        var threads = SideResources.For(Context.System).ReceiveThreads;
        for (var i = 0; i < _pollers.Length; i++)
        {
            var name = $"udp-receive-{i}";
            _pollers[i] = new DatagramPoller(_settings.ReceiveBatch, name, threads.For(name), fault => self.Tell(new Failed(fault)));
        }
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Udp.Bind bind:
                var thread = Array.IndexOf(_sockets, _sockets.Min());
                _sockets[thread]++;
                _threadOf[Context.Watch(Context.ActorOf(DatagramSocket.Props(bind, _pollers[thread])))] = thread;
                break;
            case Terminated t when _threadOf.Remove(t.ActorRef, out var left):
                _sockets[left]--;
                break;
            case Failed failed:
                // The receiving thread is gone: a restart (by the supervisor) closes every socket, whose handlers bind again.
                throw new InvalidOperationException(failed.Reason);
            case Shutdown:
                // Sockets are released by their handlers; the supervisor stops this last.
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    protected override void PostStop()
    {
        foreach (var poller in _pollers) poller.Dispose();
    }

    private sealed record Failed(string Reason);
}
