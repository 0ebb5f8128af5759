namespace TunnelActors.Transport;

/// <summary>
/// Asks an actor to release its sockets (Akka.IO unbind, acknowledged), stop its children and then stop.
/// Stopping a socket's handler outright makes Akka.IO log a DeathPactException and may leave a UDP port bound.
/// </summary>
public sealed class Shutdown
{
    public static readonly Shutdown Instance = new();
    private Shutdown() { }
}

/// <summary>An endpoint tells its parent that its socket is bound (again).</summary>
public sealed record EndpointBound(string Name, System.Net.EndPoint LocalAddress);

/// <summary>An endpoint tells its parent that a bind failed; it retries with backoff.</summary>
public sealed record EndpointBindFailed(string Name, string Reason);

/// <summary>An endpoint tells its parent that its socket is gone (its actor died); it binds again.</summary>
public sealed record EndpointLost(string Name);

/// <summary>An endpoint tells its parent that it gave up for good, and why: the side stops, saying so.</summary>
public sealed record EndpointGaveUp(string Name, string Reason);
