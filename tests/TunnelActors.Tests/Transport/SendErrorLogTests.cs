using System.Net;
using System.Net.Sockets;
using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors.Configuration;
using TunnelActors.Observability;
using TunnelActors.Transport;

namespace TunnelActors.Tests.Transport;

/// <summary>
/// How a refused send is told apart by cause and warned of. The causes a namespace can set up are
/// <see cref="SendErrorTests"/>' subject; EMSGSIZE cannot come from the relay's sockets (no don't-fragment
/// option, and a frame over what UDP carries is dropped as Oversize first), so its mapping is tested here.
/// </summary>
public sealed class SendErrorLogTests : IDisposable
{
    private static readonly UdpTunnelSettings Udp = Sides.Configure(("tunnel.udp.listen", "127.0.0.1:1"), ("tunnel.tcp.listen", "127.0.0.1:2")).Settings.Udp;

    private readonly ManualTime _time = new();
    private readonly CapturingLog _log = new();
    private readonly Socket _socket = Peers.Bind(AddressFamily.InterNetwork);

    [Theory]
    [InlineData(11, DropReason.UdpSendFailed)] // EAGAIN
    [InlineData(105, DropReason.UdpSendFailed)] // ENOBUFS
    [InlineData(1, DropReason.UdpSendForbidden)] // EPERM
    [InlineData(13, DropReason.UdpSendForbidden)] // EACCES
    [InlineData(101, DropReason.UdpSendUnreachable)] // ENETUNREACH
    [InlineData(113, DropReason.UdpSendUnreachable)] // EHOSTUNREACH
    [InlineData(112, DropReason.UdpSendUnreachable)] // EHOSTDOWN
    [InlineData(100, DropReason.UdpSendUnreachable)] // ENETDOWN
    [InlineData(99, DropReason.UdpSendUnreachable)] // EADDRNOTAVAIL
    [InlineData(90, DropReason.UdpSendTooLarge)] // EMSGSIZE
    [InlineData(111, DropReason.UdpSendOther)] // ECONNREFUSED
    [InlineData(22, DropReason.UdpSendOther)] // EINVAL
    public void Each_errno_counts_under_its_cause(int errno, DropReason reason) =>
        Assert.Equal(new SendError(reason, errno), SendError.FromErrno(errno));

    [Theory]
    [InlineData(SocketError.WouldBlock, DropReason.UdpSendFailed)]
    [InlineData(SocketError.NoBufferSpaceAvailable, DropReason.UdpSendFailed)]
    [InlineData(SocketError.AccessDenied, DropReason.UdpSendForbidden)]
    [InlineData(SocketError.NetworkUnreachable, DropReason.UdpSendUnreachable)]
    [InlineData(SocketError.HostUnreachable, DropReason.UdpSendUnreachable)]
    [InlineData(SocketError.MessageSize, DropReason.UdpSendTooLarge)]
    [InlineData(SocketError.ConnectionReset, DropReason.UdpSendOther)]
    public void The_managed_fallback_maps_socket_errors_the_same_way(SocketError error, DropReason reason) =>
        Assert.Equal(reason, SendError.FromSocketError(error).Reason);

    [Fact]
    public void The_error_is_named_with_its_number_and_text()
    {
        Assert.Equal("EMSGSIZE (errno 90, Message too long)", SendError.FromErrno(90).Description);
        Assert.Equal("errno 22 (Invalid argument)", SendError.FromErrno(22).Description);
    }

    [Fact]
    public void The_first_of_each_cause_is_warned_of_at_once_then_once_a_minute_with_the_count_left_out()
    {
        var errors = new SendErrorLog(new AddressDisplay(redact: false), _time);
        var target = Sink("192.0.2.7", peer: false);
        for (var i = 0; i < 1000; i++)
        {
            errors.Log(_log, SendError.FromErrno(1), target);
            errors.Log(_log, SendError.FromErrno(101), target);
        }
        Assert.Equal(2, _log.Lines.Count);
        Assert.Equal("Cannot send UDP to 192.0.2.7:5072: EPERM (errno 1, Operation not permitted): a local firewall rule (nftables/iptables output) " +
                     "or a prohibit route refuses it (see nft list ruleset, ip route get); such datagrams are dropped as UdpSendForbidden, " +
                     "warned of at most once a minute", _log.Lines[0]);
        Assert.StartsWith("Cannot send UDP to 192.0.2.7:5072: ENETUNREACH (errno 101, Network is unreachable): no route", _log.Lines[1]);

        _time.Advance(TimeSpan.FromSeconds(59));
        errors.Log(_log, SendError.FromErrno(1), target);
        Assert.Equal(2, _log.Lines.Count);

        _time.Advance(TimeSpan.FromSeconds(2));
        errors.Log(_log, SendError.FromErrno(1), target);
        Assert.Equal(3, _log.Lines.Count);
        Assert.EndsWith("warned of at most once a minute (1000 more in the minute before, not logged)", _log.Lines[2]);
    }

    [Fact]
    public void A_peer_is_named_as_redact_addresses_says_the_configured_target_plainly()
    {
        var errors = new SendErrorLog(new AddressDisplay(redact: true), _time);
        errors.Log(_log, SendError.FromErrno(11), Sink("192.0.2.7", peer: true));
        errors.Log(_log, SendError.FromErrno(1), Sink("192.0.2.8", peer: false));
        Assert.Matches(@"^Cannot send UDP to anon-[0-9a-f]{8}:5072: EAGAIN \(errno 11, Resource temporarily unavailable\): the socket's send buffer", _log.Lines[0]);
        Assert.DoesNotContain("192.0.2.7", _log.Lines[0]);
        Assert.StartsWith("Cannot send UDP to 192.0.2.8:5072: EPERM", _log.Lines[1]);
    }

    [Fact]
    public void A_refused_send_on_a_real_socket_says_why_and_after_its_warning_allocates_nothing()
    {
        var errors = new SendErrorLog(new AddressDisplay(redact: false));
        // Port 0 is nowhere: Linux refuses the send (EINVAL) before anything leaves.
        var sink = Sink("127.0.0.1", peer: false, port: 0);
        var counters = new TrafficCounters();
        var datagram = new byte[100];
        void Send()
        {
            if (sink.TrySend(datagram, out var error)) return;
            counters.CountDrop(error.Reason);
            errors.Log(_log, error, sink);
        }

        Send();
        Assert.StartsWith("Cannot send UDP to 127.0.0.1:0: errno 22 (Invalid argument): an error the relay has no advice for", Assert.Single(_log.Lines));
        // The runtime now and then allocates on its own (tiering up code): the quietest of a few rounds counts.
        var quietest = long.MaxValue;
        for (var round = 0; round < 5 && quietest > 0; round++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 1000; i++) Send();
            quietest = Math.Min(quietest, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.Equal(0, quietest);
        Assert.Single(_log.Lines);
        Assert.Equal(counters.TotalDropped, counters.Dropped(DropReason.UdpSendOther));
    }

    private UdpSink Sink(string address, bool peer, int port = 5072)
    {
        var capture = new SocketCapture(Udp);
        capture.AfterBind(_socket);
        return capture.SinkTo(new IPEndPoint(IPAddress.Parse(address), port), peer);
    }

    public void Dispose() => _socket.Dispose();
}
