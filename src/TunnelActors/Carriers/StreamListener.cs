using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.IO;

namespace TunnelActors.Carriers;

/// <summary>
/// The listening socket of a <see cref="StreamCarrier"/> (TLS, WebSocket or both), for one <c>Tcp.Bind</c>: answers <c>Bound</c> (or <c>CommandFailed</c>) to the
/// bind's handler, accepts one connection at a time and hands each to the carrier, which makes its connection;
/// <c>Unbind</c> closes the socket, answers <c>Unbound</c> and stops. Connections outlive it, as with Akka.IO.
/// </summary>
internal sealed class StreamListener : UntypedActor
{
    private sealed record AcceptDone(Socket? Socket, Exception? Error);

    private readonly Tcp.Bind _bind;
    private readonly IActorRef _carrier;
    private readonly IReadOnlyList<Inet.SocketOption> _options;
    private Socket? _socket;

    public StreamListener(Tcp.Bind bind, IActorRef carrier)
    {
        _bind = bind;
        _carrier = carrier;
        _options = bind.Options.ToList();
    }

    public static Props Props(Tcp.Bind bind, IActorRef carrier) => Akka.Actor.Props.Create(() => new StreamListener(bind, carrier));

    protected override void PreStart()
    {
        var endpoint = (IPEndPoint)_bind.LocalAddress;
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endpoint.AddressFamily == AddressFamily.InterNetworkV6 && endpoint.Address.Equals(IPAddress.IPv6Any)) socket.DualMode = true;
            foreach (var option in _options) option.BeforeServerSocketBind(socket);
            socket.Bind(endpoint);
            socket.Listen(_bind.Backlog);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            _bind.Handler.Tell(new Tcp.CommandFailed(_bind).WithCause(e));
            Context.Stop(Self);
            return;
        }
        _socket = socket;
        _bind.Handler.Tell(new Tcp.Bound(socket.LocalEndPoint!), Self);
        AcceptNext();
    }

    private void AcceptNext() =>
        _socket!.AcceptAsync().PipeTo(Self, Self, accepted => new AcceptDone(accepted, null), e => new AcceptDone(null, e));

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case AcceptDone { Socket: { } accepted }:
                _carrier.Tell(new StreamCarrier.Accepted(accepted, _bind.Handler, _options));
                AcceptNext();
                break;
            case AcceptDone { Error: SocketException { SocketErrorCode: SocketError.ConnectionAborted or SocketError.ConnectionReset } }:
                // Gone before it was taken.
                AcceptNext();
                break;
            case AcceptDone:
                // Out of descriptors, or the socket was closed under it: it cannot go on listening.
                Context.Stop(Self);
                break;
            case Tcp.Unbind:
                _socket?.Dispose();
                _socket = null;
                Sender.Tell(Tcp.Unbound.Instance);
                Context.Stop(Self);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    protected override void PostStop() => _socket?.Dispose();
}
