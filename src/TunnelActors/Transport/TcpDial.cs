using System.Net;
using Akka.Actor;
using Akka.IO;
using TunnelActors.Configuration;

namespace TunnelActors.Transport;

/// <summary>
/// Dials a tunnel connection (pull mode, keepalive, connect timeout) with a watchdog: Akka.IO's outgoing
/// connection actor can die without answering either <c>Connected</c> or <c>CommandFailed</c> (seen when the
/// peer resets the connection right after accepting it), which would leave the dialer waiting forever.
/// </summary>
internal static class TcpDial
{
    /// <summary>Neither answer came: treat the dial as failed.</summary>
    public sealed class Unanswered
    {
        public static readonly Unanswered Instance = new();
        private Unanswered() { }
    }

    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(2);

    public static void Start(IActorContext context, ITimerScheduler timers, EndPoint remote, TcpTunnelSettings tcp)
    {
        context.System.Tcp().Tell(new Tcp.Connect(remote, null, TcpTuning.For(tcp), tcp.ConnectTimeout, pullMode: true), context.Self);
        timers.StartSingleTimer(Unanswered.Instance, Unanswered.Instance, tcp.ConnectTimeout + Grace);
    }

    /// <summary>Call on <c>Connected</c> or <c>CommandFailed</c>.</summary>
    public static void Answered(ITimerScheduler timers) => timers.Cancel(Unanswered.Instance);

    public static string Reason(Tcp.CommandFailed failed) =>
        failed.Cause.HasValue ? failed.Cause.Value.Message : "no reason given";
}
