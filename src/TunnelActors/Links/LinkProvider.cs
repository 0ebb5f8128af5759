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

    /// <summary>Requester → provider: the request is withdrawn (the session ended first).</summary>
    public sealed class Cancel
    {
        public static readonly Cancel Instance = new();
        private Cancel() { }
    }
}
