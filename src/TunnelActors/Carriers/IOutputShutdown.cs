namespace TunnelActors.Carriers;

/// <summary>A stream that ends its direction of the connection in its own way before the socket's FIN (a WebSocket's close, TLS's close_notify).</summary>
internal interface IOutputShutdown
{
    Task ShutdownOutputAsync();
}
