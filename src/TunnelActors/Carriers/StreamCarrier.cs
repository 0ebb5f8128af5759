using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using TunnelActors.Configuration;
using TunnelActors.Observability;

namespace TunnelActors.Carriers;

/// <summary>
/// The carrier of a side whose tunnel connections are not Akka.IO's plain sockets: TLS, a WebSocket, an HTTP proxy, or
/// some of them. An actor that answers Akka.IO's TCP manager protocol, <c>Tcp.Connect</c> (<c>Connected</c> once the
/// socket is connected, through the proxy's <c>CONNECT</c> if there is one, the far side's certificate checked with
/// TLS, and the WebSocket upgraded (with a key, on the stage's first write, which the upgrade request carries); else
/// <c>CommandFailed</c> with the cause) and
/// <c>Tcp.Bind</c> (a <see cref="StreamListener"/>: <c>Bound</c>, then a <c>Connected</c> per accepted connection, whose
/// TLS handshake and WebSocket upgrade follow within <c>auth.handshake-timeout</c>, once the acceptor has admitted it). Its connections
/// (<see cref="StreamConnection"/>, its children) speak Akka.IO's connection protocol, so the dialer, the acceptor
/// and the stage are handed this or Akka.IO's manager and do not know which. Socket options are Akka.IO's
/// (<c>Inet.SocketOption</c>), applied at the same points.
/// </summary>
public sealed class StreamCarrier : UntypedActor
{
    public const string Name = "tcp-io";

    /// <summary>Listener → carrier: a connection it accepted, for <paramref name="Handler"/>.</summary>
    internal sealed record Accepted(Socket Socket, IActorRef Handler, IReadOnlyList<Inet.SocketOption> Options);

    private sealed record Dialed(Tcp.Connect Command, IActorRef Commander, Socket? Socket, Stream? Stream, Exception? Error);

    private readonly TlsSettings? _tls;
    private readonly HttpProxySettings? _proxy;
    private readonly WebSocketSettings? _webSocket;
    private readonly FallbackSite? _site;
    private readonly LinkCounters _links;
    private readonly TimeSpan _handshakeTimeout;
    private readonly TimeSpan _connectTimeout;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private CertificateStore? _certificates;
    // Cancels the dials still out when the carrier stops: their answers would reach nobody, and their sockets close now.
    private readonly CancellationTokenSource _stopped = new();

    /// <param name="links">The side's connection counters: requests that are not a tunnel's are counted there.</param>
    public StreamCarrier(TlsSettings? tls, HttpProxySettings? proxy, WebSocketSettings? webSocket, HttpFallbackSettings? fallback,
        TimeSpan connectTimeout, TimeSpan handshakeTimeout, LinkCounters links)
    {
        _links = links;
        _tls = tls;
        _proxy = proxy;
        _webSocket = webSocket;
        _site = fallback is null ? null : new FallbackSite(fallback, _stopped.Token);
        _connectTimeout = connectTimeout;
        _handshakeTimeout = handshakeTimeout;
    }

    public static Props Props(TlsSettings? tls, HttpProxySettings? proxy, WebSocketSettings? webSocket, HttpFallbackSettings? fallback,
        TimeSpan connectTimeout, TimeSpan handshakeTimeout, LinkCounters links) =>
        Akka.Actor.Props.Create(() => new StreamCarrier(tls, proxy, webSocket, fallback, connectTimeout, handshakeTimeout, links));

    // A connection that fails is its handler's business; the carrier goes on.
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Tcp.Connect connect:
                var commander = Sender;
                DialAsync(connect).PipeTo(Self, Self,
                    dialed => new Dialed(connect, commander, dialed.Socket, dialed.Stream, null),
                    e => new Dialed(connect, commander, null, null, e));
                break;
            case Dialed { Error: null } dialed:
                var connection = Context.ActorOf(StreamConnection.Props(dialed.Socket!, dialed.Stream!, null, _handshakeTimeout));
                dialed.Commander.Tell(new Tcp.Connected(dialed.Socket!.RemoteEndPoint!, dialed.Socket.LocalEndPoint!), connection);
                break;
            case Dialed failed:
                failed.Commander.Tell(new Tcp.CommandFailed(failed.Command).WithCause(failed.Error!));
                break;
            case Tcp.Bind bind:
                if (Certificates() is null && _webSocket is null && _site is null)
                {
                    Sender.Tell(new Tcp.CommandFailed(bind).WithCause(new InvalidOperationException("this side has no tls.cert-file to serve, no websocket.path and no http-fallback")));
                    break;
                }
                Context.ActorOf(StreamListener.Props(bind, Self));
                break;
            case Accepted accepted:
                Accept(accepted);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private CertificateStore? Certificates()
    {
        if (_certificates is not null || _tls?.CertFile is null || _tls.KeyFile is null) return _certificates;
        var log = _log;
        return _certificates = new CertificateStore(_tls.CertFile, _tls.KeyFile, line => log.Info("{0}", line), line => log.Warning("{0}", line));
    }

    private void Accept(Accepted accepted)
    {
        var socket = accepted.Socket;
        EndPoint remote, local;
        try
        {
            // Frames are written as they come, as Akka.IO's connections do: no Nagle delay behind an unacknowledged one.
            socket.NoDelay = true;
            foreach (var option in accepted.Options) option.AfterConnect(socket);
            (remote, local) = (socket.RemoteEndPoint!, socket.LocalEndPoint!);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Reset before it could be handed on.
            socket.Dispose();
            return;
        }
        var (certificates, webSocket, site, timeout, links) = (_certificates, _webSocket, _site, _handshakeTimeout, _links);
        var connection = Context.ActorOf(StreamConnection.Props(socket, null, async cancellation =>
        {
            var raw = new SocketStream(socket);
            Stream stream = raw;
            try
            {
                if (certificates is not null)
                {
                    var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                    stream = tls;
                    await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificateContext = certificates.Current }, cancellation);
                }
                if (webSocket is not null)
                {
                    try
                    {
                        var upgraded = await WebSocketAccept.OpenAsync(stream, socket, webSocket, site, timeout, cancellation);
                        raw.ReadAhead = true;
                        return upgraded;
                    }
                    catch (WebSocketAccept.Refused)
                    {
                        links.CountRefused(Refusal.NotATunnel);
                        throw;
                    }
                }
                raw.ReadAhead = true;
                return site is null ? stream : new RecordingStream(stream, socket, site);
            }
            catch (Exception e) when (e is not WebSocketAccept.Refused { SocketTaken: true })
            {
                await stream.DisposeAsync();
                throw;
            }
        }, _handshakeTimeout));
        accepted.Handler.Tell(new Tcp.Connected(remote, local), connection);
    }

    protected override void PostStop() => _stopped.Cancel();

    private async Task<(Socket Socket, Stream Stream)> DialAsync(Tcp.Connect connect)
    {
        var to = _proxy?.Proxy ?? connect.RemoteAddress;
        var socket = to is IPEndPoint ip ? new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp) : new Socket(SocketType.Stream, ProtocolType.Tcp);
        Stream? stream = null;
        try
        {
            foreach (var option in connect.Options) option.BeforeConnect(socket);
            var timeout = connect.Timeout ?? _connectTimeout;
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stopped.Token);
            deadline.CancelAfter(timeout);
            try
            {
                await socket.ConnectAsync(to, deadline.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException(_proxy is null ? $"no connection within {timeout.TotalSeconds:0.#} s" : $"no connection to the HTTP proxy {_proxy} within {timeout.TotalSeconds:0.#} s");
            }
            catch (SocketException e) when (_proxy is not null)
            {
                throw new IOException($"cannot reach the HTTP proxy {_proxy} ({e.Message})");
            }
            // Frames are written as they come, as Akka.IO's connections do: no Nagle delay behind an unacknowledged one.
            socket.NoDelay = true;
            foreach (var option in connect.Options) option.AfterConnect(socket);
            var raw = new SocketStream(socket);
            stream = raw;
            if (_proxy is { } proxy)
            {
                try
                {
                    await HttpConnect.OpenAsync(stream, connect.RemoteAddress, proxy, deadline.Token);
                }
                catch (OperationCanceledException)
                {
                    throw new TimeoutException($"the HTTP proxy {proxy} did not answer CONNECT within {timeout.TotalSeconds:0.#} s");
                }
            }
            _stopped.Token.ThrowIfCancellationRequested();
            if (_tls is { Dials: true } tls) stream = await SecureAsync(stream, tls);
            if (_webSocket is { } webSocket) stream = await UpgradeAsync(stream, webSocket);
            raw.ReadAhead = true;
            return (socket, stream);
        }
        catch
        {
            stream?.Dispose();
            socket.Dispose();
            throw;
        }
    }

    private async Task<Stream> SecureAsync(Stream stream, TlsSettings tls)
    {
        var secured = new SslStream(stream, leaveInnerStreamOpen: false);
        using var handshake = CancellationTokenSource.CreateLinkedTokenSource(_stopped.Token);
        handshake.CancelAfter(_handshakeTimeout);
        try
        {
            await TlsClient.AuthenticateAsync(secured, tls, handshake.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"TLS: no handshake within {_handshakeTimeout.TotalSeconds:0.#} s (auth.handshake-timeout)");
        }
        catch (System.Security.Authentication.AuthenticationException e)
        {
            throw new System.Security.Authentication.AuthenticationException($"TLS: {e.Message}");
        }
        catch (IOException e)
        {
            throw new IOException($"TLS: the far side closed the connection during the handshake ({e.Message}); does it serve TLS?");
        }
        _stopped.Token.ThrowIfCancellationRequested();
        return secured;
    }

    /// <summary>
    /// The WebSocket upgrade: at once without a key; with one, on the stage's first write, its proof, which the
    /// request carries (the stage's handshake deadline bounds it).
    /// </summary>
    private async Task<Stream> UpgradeAsync(Stream stream, WebSocketSettings webSocket)
    {
        if (webSocket.ProofInUpgrade)
            return new DeferredStream(stream, [], async (proof, cancellation) =>
            {
                using var stopped = CancellationTokenSource.CreateLinkedTokenSource(cancellation, _stopped.Token);
                return await WebSocketClient.UpgradeAsync(stream, webSocket, proof.ToArray(), stopped.Token);
            }, refuse: null);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stopped.Token);
        deadline.CancelAfter(_handshakeTimeout);
        try
        {
            return (await WebSocketClient.UpgradeAsync(stream, webSocket, null, deadline.Token)).Opened;
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"WebSocket: no upgrade within {_handshakeTimeout.TotalSeconds:0.#} s (auth.handshake-timeout)");
        }
    }
}
