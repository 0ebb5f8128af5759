using System.Net;
using Akka.Actor;
using TunnelActors.Auth;
using TunnelActors.Observability;
using TunnelActors.Transport;

namespace TunnelActors.Links;

/// <summary>
/// What a tunnel connection (<see cref="FramingStage"/>) and those it works for say to each other. Its owner,
/// given when it is made (a session, the relay host's pool, the lease pool or the flow table) and later the
/// flow or session it is given to, hears when it is admitted, when the far side starts a flow on it and when it
/// ends; its parent (the acceptor or dialer that made it) hears when it is admitted and when it ends.
/// </summary>
public static class Link
{
    /// <summary>Where decoded datagrams go and whose they are; with a key, the flow the connection carries (written first).</summary>
    public sealed record Binding(UdpSink Sink, TrafficCounters Counters, ActivityStamp Activity, FlowId? Flow = null);

    /// <summary>Owner → link: report to <paramref name="Owner"/> from now on; with a binding, carry its datagrams.</summary>
    public sealed record Attach(IActorRef Owner, Binding? Binding = null);

    /// <summary>
    /// Link → owner and parent: the connection is admitted (its handshake passed, or it needs none), and again to
    /// each owner it is given to later: the one answer to <see cref="LinkProvider.Acquire"/>, from the connection
    /// itself, so that it comes before anything else the connection says. <paramref name="Flow"/> names a flow started on it.
    /// </summary>
    public sealed record Admitted(FlowId? Flow);

    /// <summary>
    /// Link → owner, on the forward side: the far side started using the connection, with a whole frame (no key)
    /// or by naming its flow (key). Reading waits for an <see cref="Attach"/> with a binding.
    /// </summary>
    public sealed record FirstFrame(FlowId? Flow, EndPoint Remote);

    /// <summary>Link → owner and parent: the connection is gone and the link has stopped.</summary>
    /// <param name="Admitted">Whether it got past its handshake.</param>
    public sealed record Ended(LinkEnd How, string Reason, bool Admitted);

    /// <summary>Write what is queued, then FIN; reset after <c>tcp.close-timeout</c> if the far side does not finish.</summary>
    public sealed record Close(string Reason);

    /// <summary>Reset the connection now; what is queued is dropped and counted.</summary>
    public sealed record Abort(string Reason);
}
