using System.Net;
using Akka.IO;
using TunnelActors.Configuration;

namespace TunnelActors.Transport;

/// <summary>
/// What a dial asks of Akka.IO: pull mode (the connection reads only when its handler asks), this side's socket
/// options, the connect timeout. Akka.IO's outgoing connection actor can also die without answering either
/// <c>Connected</c> or <c>CommandFailed</c> (seen when the far side resets the connection right after accepting
/// it), so whoever dials gives each dial up after <see cref="Patience"/>.
/// </summary>
internal static class TcpDial
{
    public static Tcp.Connect Command(EndPoint remote, TcpTunnelSettings tcp) =>
        new(remote, null, TcpTuning.For(tcp), tcp.ConnectTimeout, pullMode: true);

    /// <summary>How long a dial may go unanswered before it counts as failed.</summary>
    public static TimeSpan Patience(TcpTunnelSettings tcp) => tcp.ConnectTimeout + TimeSpan.FromSeconds(2);

    public static string Reason(Tcp.CommandFailed failed) =>
        failed.Cause.HasValue ? failed.Cause.Value.Message : "no reason given";
}
