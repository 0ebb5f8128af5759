using System.Net;
using TunnelActors.Tools.Bench;

namespace TunnelActors.Tools.Bench.Echo;

/// <param name="ReplyTo">Every reply goes here instead of to its datagram's source (RTP style, for Debian's udptunnel).</param>
/// <param name="ReuseAddress">SO_REUSEADDR on the socket (see <see cref="SocketSetup.Udp"/>).</param>
internal sealed record EchoOptions(
    IPEndPoint Bind,
    IPEndPoint? ReplyTo = null,
    int DropEvery = 0,
    int DuplicateEvery = 0,
    int CorruptEvery = 0,
    int SwapEvery = 0,
    bool ReuseAddress = false);
