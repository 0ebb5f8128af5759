using System.Net;
using Akka.Actor;
using Akka.IO;
using TunnelActors.Configuration;

namespace TunnelActors.Transport;

/// <summary>
/// Dials through the side's carrier (Akka.IO's TCP, or TLS, which answers the same protocol) for one actor, with what Akka.IO 1.5.74 leaves to its user done here. A dial is in pull
/// mode (the connection reads only when its handler asks), with this side's socket options and the connect
/// timeout. <c>Connected</c> does not say which dial it answers: dials to one far side are alike, so it answers
/// the oldest. And the outgoing connection actor can die without answering either <c>Connected</c> or
/// <c>CommandFailed</c> (seen when the far side resets a connection right after accepting it), so a dial left
/// unanswered past the connect timeout and two seconds more counts as failed (<see cref="Expire"/>, from a
/// periodic <see cref="Watchdog"/> the owner runs while dials are out).
/// </summary>
internal sealed class TcpDials(TcpTunnelSettings tcp, IActorRef carrier)
{
    /// <summary>The owner's timer message while dials are out: hand it to <see cref="Expire"/>.</summary>
    public sealed class Watchdog
    {
        public static readonly Watchdog Instance = new();
        private Watchdog() { }
    }

    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(2);

    private readonly LinkedList<(Tcp.Connect Command, long Started)> _out = new();

    /// <summary>Dials not answered yet.</summary>
    public int Count => _out.Count;

    public void Dial(IActorContext owner, ITimerScheduler timers, EndPoint remote)
    {
        var command = new Tcp.Connect(remote, null, TcpTuning.For(tcp), tcp.ConnectTimeout, pullMode: true);
        carrier.Tell(command, owner.Self);
        _out.AddLast((command, Environment.TickCount64));
        if (!timers.IsTimerActive(Watchdog.Instance)) timers.StartPeriodicTimer(Watchdog.Instance, Watchdog.Instance, TimeSpan.FromSeconds(1));
    }

    /// <summary>On <c>Connected</c>: the oldest dial is answered.</summary>
    public void Connected(ITimerScheduler timers)
    {
        if (_out.First is not null) _out.RemoveFirst();
        StopWatching(timers);
    }

    /// <summary>On <c>CommandFailed</c> for a dial: that one is answered; its reason, as far as Akka.IO gives one.</summary>
    public string Failed(ITimerScheduler timers, Tcp.CommandFailed failed)
    {
        for (var node = _out.First; node is not null; node = node.Next)
        {
            if (!ReferenceEquals(node.Value.Command, failed.Cmd)) continue;
            _out.Remove(node);
            break;
        }
        StopWatching(timers);
        return failed.Cause.HasValue ? failed.Cause.Value.Message : "no reason given";
    }

    /// <summary>On <see cref="Watchdog"/>: gives up the dials left unanswered too long; returns how many.</summary>
    public int Expire(ITimerScheduler timers)
    {
        var patience = (long)(tcp.ConnectTimeout + Grace).TotalMilliseconds;
        var expired = 0;
        while (_out.First is { } oldest && Environment.TickCount64 - oldest.Value.Started > patience)
        {
            _out.RemoveFirst();
            expired++;
        }
        StopWatching(timers);
        return expired;
    }

    private void StopWatching(ITimerScheduler timers)
    {
        if (_out.Count == 0) timers.Cancel(Watchdog.Instance);
    }
}
