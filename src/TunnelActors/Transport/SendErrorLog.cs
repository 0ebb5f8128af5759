using Akka.Actor;
using Akka.Event;
using TunnelActors.Flow;
using TunnelActors.Observability;

namespace TunnelActors.Transport;

/// <summary>
/// Warns of datagrams the kernel refused to send: the first of each cause (<see cref="SendError.Reason"/>) at
/// once, then at most once a minute per cause, with how many were left out. Once a minute rather than once
/// for good: a cause that goes and comes back (a firewall reloaded, a route flapping) shows again, and a
/// side has only a handful of causes. A cause that lasts refuses every datagram, so what runs for each is a
/// clock read and an atomic or two; the line is only put together when it is logged.
/// </summary>
public sealed class SendErrorLog(AddressDisplay addresses, TimeProvider? time = null) : IExtension
{
    /// <summary>The side's one log of refused sends.</summary>
    public static SendErrorLog For(ActorSystem system) => system.WithExtension<SendErrorLog, Provider>();

    private sealed class Provider : ExtensionIdProvider<SendErrorLog>
    {
        public override SendErrorLog CreateExtension(ExtendedActorSystem system) => new(SideResources.For(system).Addresses);
    }

    private static readonly int ReasonCount = Enum.GetValues<DropReason>().Length;

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly long[] _loggedAt = Enumerable.Repeat(long.MinValue, ReasonCount).ToArray();
    private readonly long[] _leftOut = new long[ReasonCount];

    /// <summary>Logs a warning of <paramref name="error"/> on a send to <paramref name="sink"/>, unless its cause had one this minute.</summary>
    public void Log(ILoggingAdapter log, SendError error, UdpSink sink)
    {
        var cause = (int)error.Reason;
        var now = _time.GetTimestamp();
        var last = Volatile.Read(ref _loggedAt[cause]);
        if ((last != long.MinValue && _time.GetElapsedTime(last, now) < ThrottledLog.Window)
            || Interlocked.CompareExchange(ref _loggedAt[cause], now, last) != last)
        {
            Interlocked.Increment(ref _leftOut[cause]);
            return;
        }
        var leftOut = Interlocked.Exchange(ref _leftOut[cause], 0);
        log.Warning("Cannot send UDP to {0}: {1}: {2}; such datagrams are dropped as {3}, warned of at most once a minute{4}",
            sink.Show(addresses), error.Description, Advice(error.Reason), error.Reason,
            leftOut > 0 ? $" ({leftOut} more in the minute before, not logged)" : "");
    }

    private static string Advice(DropReason reason) => reason switch
    {
        DropReason.UdpSendFailed => "the socket's send buffer or the interface's queue is full: raise tunnel.udp.send-buffer " +
                                    "(and net.core.wmem_max, which caps it)",
        DropReason.UdpSendForbidden => "a local firewall rule (nftables/iptables output) or a prohibit route refuses it " +
                                       "(see nft list ruleset, ip route get)",
        DropReason.UdpSendUnreachable => "no route to it from this host, or its interface is down (see ip route get)",
        DropReason.UdpSendTooLarge => "larger than the path or interface MTU lets the kernel send unfragmented",
        _ => "an error the relay has no advice for",
    };
}
