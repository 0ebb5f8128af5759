using System.Net;
using System.Net.Sockets;
using Akka.IO;
using Akka.TestKit.Xunit2;
using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors.Auth;
using TunnelActors.Configuration;
using TunnelActors.Endpoints;
using TunnelActors.Framing;
using TunnelActors.Links;
using TunnelActors.Observability;
using TunnelActors.Transport;

namespace TunnelActors.Tests.Transport;

/// <summary>A real connection accepted by the TCP-listen endpoint's bind, and a real client writing into it.</summary>
public sealed class PullModeTests : TestKit
{
    private const int FrameLength = 1002;
    private const int WriteCap = 16 << 20;

    private static readonly IPEndPoint Remote = new(IPAddress.Loopback, 9);

    public PullModeTests() : base(TunnelConfiguration.Reference) { }

    [Fact]
    public async Task An_accepted_connection_stops_reading_while_its_datagrams_have_nowhere_to_go_and_loses_none()
    {
        var settings = Sides.Configure(("tunnel.tcp.listen", "127.0.0.1:0"), ("tunnel.udp.forward", "127.0.0.1:9"),
            ("tunnel.tcp.receive-buffer", "64k")).Settings;
        Sys.Tcp().Tell(TcpAcceptor.BindCommand(TestActor, settings.Tcp), TestActor);
        var bound = ExpectMsg<Tcp.Bound>();

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { SendBufferSize = 64 * 1024 };
        await client.ConnectAsync(bound.LocalAddress);
        ExpectMsg<Tcp.Connected>();
        var connection = LastSender;

        // A forward side's connection before its flow's socket is bound: the first frame starts the flow, and it
        // holds what it has read until it is given somewhere to send it.
        var owner = CreateTestProbe();
        var counters = new TrafficCounters();
        var stage = Sys.ActorOf(FramingStage.Props(connection, new LinkRole(HandshakeRole.Listener, AwaitsFlow: true, TimeSpan.Zero),
            settings, Remote, owner.Ref));

        client.Blocking = false;
        var writer = new FrameWriter(client, Frame());
        var written = writer.WriteUntilStalled(WriteCap);
        Assert.True(written < WriteCap, $"the connection kept reading: {written} bytes written without a stall");
        Assert.True(written < 2 << 20, $"{written} bytes went in before the writes stalled");
        owner.ExpectMsg<Link.Admitted>();
        owner.ExpectMsg<Link.FirstFrame>();
        owner.ExpectNoMsg(TimeSpan.FromMilliseconds(100));

        // Given somewhere to go, the stage passes on everything it held and reading resumes.
        using var listenSocket = Peers.Bind(AddressFamily.InterNetwork);
        using var peer = Peers.Bind(AddressFamily.InterNetwork);
        var capture = new SocketCapture(settings.Udp);
        capture.AfterBind(listenSocket);
        stage.Tell(new Link.Attach(owner.Ref, new Link.Binding(capture.SinkTo((IPEndPoint)peer.LocalEndPoint!, peer: true), counters,
            new ActivityStamp())), owner.Ref);
        var total = writer.WriteUntilStalled(written + 100 * FrameLength);
        Assert.True(total >= written + 100 * FrameLength, $"the writes stalled again after {total} bytes");
        AwaitCondition(() => counters.ToUdpDatagrams == total / FrameLength, TimeSpan.FromSeconds(10));
        Assert.Equal(0, counters.TotalDropped);
    }

    private static byte[] Frame() => Frames.Of(new byte[FrameLength - 2]);

    /// <summary>Writes the same frame over and over on a non-blocking socket.</summary>
    private sealed class FrameWriter(Socket client, byte[] frame)
    {
        private int _written;

        /// <summary>
        /// Writes until at least <paramref name="target"/> bytes are written and the last frame is whole, or until
        /// the socket has not become writable for half a second (the receiver stopped reading); returns the
        /// bytes written so far.
        /// </summary>
        public int WriteUntilStalled(int target)
        {
            while (_written < target || _written % frame.Length != 0)
            {
                var offset = _written % frame.Length;
                var sent = client.Send(frame, offset, frame.Length - offset, SocketFlags.None, out var error);
                if (error == SocketError.WouldBlock)
                {
                    if (!client.Poll(TimeSpan.FromMilliseconds(500), SelectMode.SelectWrite)) break;
                    continue;
                }
                Assert.Equal(SocketError.Success, error);
                _written += sent;
            }
            return _written;
        }
    }
}
