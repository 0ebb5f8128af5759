using System.Net.Sockets;
using Akka.Actor;
using Akka.IO;

namespace TunnelActors.Transport;

/// <summary>
/// One UDP socket of the side's own (<see cref="DatagramManager"/>), speaking Akka.IO's protocol to its handler:
/// it binds as it starts and answers <see cref="Udp.Bound"/> (or <see cref="Udp.CommandFailed"/> and stops); its
/// datagrams reach the handler as <see cref="Udp.Received"/> from <see cref="DatagramPoller"/>; it sends
/// <see cref="Udp.Send"/> without blocking; <see cref="Udp.Unbind"/> closes it and answers <see cref="Udp.Unbound"/>.
/// However it stops, the socket is closed with it, and it stops when its handler does (a handler that stopped while
/// its bind was in flight cannot unbind).
/// </summary>
internal sealed class DatagramSocket : UntypedActor
{
    private readonly Udp.Bind _bind;
    private readonly DatagramPoller _poller;
    private Socket? _socket;
    private DatagramPoller.Registration? _registration;

    public DatagramSocket(Udp.Bind bind, DatagramPoller poller)
    {
        _bind = bind;
        _poller = poller;
    }

    public static Props Props(Udp.Bind bind, DatagramPoller poller) => Akka.Actor.Props.Create(() => new DatagramSocket(bind, poller));

    protected override void PreStart()
    {
        var socket = new Socket(_bind.LocalAddress.AddressFamily, SocketType.Dgram, ProtocolType.Udp) { Blocking = false };
        try
        {
            foreach (var option in _bind.Options) option.BeforeDatagramBind(socket);
            socket.Bind(_bind.LocalAddress);
            _socket = socket;
            _registration = _poller.Register(socket, _bind.Handler, Self);
            foreach (var option in _bind.Options.OfType<Inet.SocketOptionV2>()) option.AfterBind(socket);
        }
        catch (SocketException)
        {
            Close();
            socket.Dispose();
            _bind.Handler.Tell(new Udp.CommandFailed(_bind), Self);
            Context.Stop(Self);
            return;
        }
        Context.Watch(_bind.Handler);
        _bind.Handler.Tell(new Udp.Bound(socket.LocalEndPoint), Self);
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Udp.Send send:
                var bytes = send.Payload.ToArray();
                NonBlockingSend.SendTo(_socket!, bytes, send.Target.Serialize(), out _);
                if (send.WantsAck) Sender.Tell(send.Ack);
                break;
            case Udp.Unbind:
                Close();
                Sender.Tell(Udp.Unbound.Instance);
                Context.Stop(Self);
                break;
            case Terminated t when t.ActorRef.Equals(_bind.Handler):
                Context.Stop(Self);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void Close()
    {
        _registration?.Dispose();
        _registration = null;
        _socket?.Dispose();
    }

    protected override void PostStop() => Close();
}
