namespace TunnelActors.Carriers;

/// <summary>A listener's connection that, ended before it carried a tunnel, can be handed over instead of closed.</summary>
internal interface IRefusable
{
    /// <summary>Whether it was handed over (to the website, or to a web server's answer); the taker then owns the socket.</summary>
    bool TryRefuse();
}
