using Akka.Actor;

namespace TunnelActors.Links;

/// <summary>
/// Dialing and leasing behind one protocol: whoever needs a tunnel connection (a UDP-listen session, the relay
/// host's pool) asks a provider, the <see cref="Dialer"/> or the <see cref="LeasePool"/>, and hears from the
/// connection itself, admitted and attached to it (<see cref="Link.Admitted"/>, from the connection).
/// </summary>
public static class LinkProvider
{
    /// <summary>Requester → provider: a connection as soon as there is one, attached to the sender with this binding (none: only owned).</summary>
    public sealed record Acquire(Link.Binding? Binding);

    /// <summary>
    /// Lease pool → requester: this connection, already admitted, is being attached to you; its <see cref="Link.Admitted"/>
    /// follows. Watch it: one that ended while the lease was on its way never answers.
    /// </summary>
    public sealed record Leased(IActorRef Link);

    /// <summary>Requester → provider: the request is withdrawn (the session ended first).</summary>
    public sealed class Cancel
    {
        public static readonly Cancel Instance = new();
        private Cancel() { }
    }

    /// <summary>A provider's queue of requests: forgets every one of <paramref name="requester"/>'s.</summary>
    internal static void Withdraw(this LinkedList<(IActorRef Requester, Link.Binding? Binding)> waiting, IActorRef requester)
    {
        for (var node = waiting.First; node is not null;)
        {
            var next = node.Next;
            if (node.Value.Requester.Equals(requester)) waiting.Remove(node);
            node = next;
        }
    }
}
