namespace TunnelActors.Links;

/// <summary>How a tunnel connection ended (<see cref="Link.Ended"/>).</summary>
public enum LinkEnd
{
    /// <summary>Closed or reset at this side's request: its owner, a limit, a shutdown.</summary>
    Closed,
    /// <summary>Turned away by this side: the far side failed the handshake or sent nothing in time.</summary>
    Refused,
    /// <summary>The far side closed it once it had this side's proof: it holds another key, or none.</summary>
    KeyRefused,
    /// <summary>The far side closed it, or it failed, before a datagram crossed it.</summary>
    LostUnused,
    /// <summary>The far side closed it, or it failed, after datagrams crossed it.</summary>
    Lost,
}
