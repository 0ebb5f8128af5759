using TunnelActors.Auth;

namespace TunnelActors.Links;

/// <summary>How a tunnel connection starts out.</summary>
/// <param name="End">Which end of the TCP connection this side is: the handshake proves it.</param>
/// <param name="AwaitsFlow">Forward side: the far side starts a flow on it (<see cref="Link.FirstFrame"/>); else it waits to be given one.</param>
/// <param name="FirstFrameTimeout">How long an accepted connection may send nothing that starts a flow; zero = no limit.</param>
public sealed record LinkRole(HandshakeRole End, bool AwaitsFlow, TimeSpan FirstFrameTimeout);
