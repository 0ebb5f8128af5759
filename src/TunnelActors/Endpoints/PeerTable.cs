using System.Net;
using Akka.Actor;
using Akka.IO;
using TunnelActors.Configuration;
using TunnelActors.Flow;
using TunnelActors.Links;
using TunnelActors.Observability;
using TunnelActors.Sessions;

namespace TunnelActors.Endpoints;

/// <summary>
/// The UDP-listen endpoint's peers: which session each source address:port has, and which sessions are alive.
/// A session counts against <c>session.max-sessions</c> until it has stopped, ending or not, so the cap holds
/// exactly. When the table is full, the oldest session whose peer was never answered (spoofed and stray sources
/// are never answered) is evicted, and the new peer waits for its place, its datagrams held; a peer that has had
/// answers keeps its place. Also the per-address and per-second limits on new sessions.
/// </summary>
internal sealed class PeerTable(SessionSettings settings, ByteBudget budget)
{
    public abstract record Verdict;

    /// <summary>The peer has a session: hand the datagram to it.</summary>
    public sealed record Routed(IActorRef Session) : Verdict;

    /// <summary>A new peer with a place: start its session.</summary>
    public sealed record New : Verdict;

    /// <summary>A new peer whose place is being freed: its datagram waits here.</summary>
    public sealed record Parked : Verdict;

    /// <summary>Dropped, for this reason.</summary>
    public sealed record Refused(DropReason Reason) : Verdict;

    private static readonly New StartOne = new();
    private static readonly Parked Waits = new();

    private sealed record Entry(IPEndPoint Peer, IActorRef Session, ActivityStamp Activity, long Order)
    {
        /// <summary>Made once: routing a datagram allocates nothing.</summary>
        public Routed Route { get; } = new(Session);
    }

    private readonly Dictionary<EndPoint, Entry> _routes = new();
    private readonly Dictionary<IActorRef, Entry> _live = new();
    private readonly HashSet<IActorRef> _evicting = new();
    private readonly LinkedList<(IPEndPoint Peer, DatagramQueue Pending)> _parked = new();
    private readonly AdmissionLimits _admission = new(settings.MaxPerSource, settings.NewPerSecond);
    private long _order;

    public Verdict Route(IPEndPoint peer, Udp.Received datagram, AllowList allow)
    {
        if (_routes.TryGetValue(peer, out var entry)) return entry.Route;
        if (ParkedFor(peer) is { } parked) return parked.TryEnqueue(datagram) is { } full ? new Refused(full) : Waits;
        if (!allow.Allows(peer)) return new Refused(DropReason.NotAllowed);
        switch (_admission.TryAdmit(peer))
        {
            case AdmissionLimits.Verdict.SourceFull:
                return new Refused(DropReason.SourceLimit);
            case AdmissionLimits.Verdict.TooFast:
                return new Refused(DropReason.RateLimit);
        }
        if (_live.Count < settings.MaxSessions) return StartOne;
        if (!EvictOne())
        {
            _admission.Release(peer);
            return new Refused(DropReason.SessionLimit);
        }
        var pending = new DatagramQueue(settings.QueueLimit, settings.QueueMaxDelay, budget);
        _parked.AddLast((peer, pending));
        return pending.TryEnqueue(datagram) is { } refused ? new Refused(refused) : Waits;
    }

    public void Started(IPEndPoint peer, IActorRef session, ActivityStamp activity)
    {
        var entry = new Entry(peer, session, activity, ++_order);
        _routes[peer] = entry;
        _live[session] = entry;
    }

    /// <summary>The session is ending: the peer's next datagram starts another (which counts, while this one lives, as two).</summary>
    public void Ending(EndPoint peer, IActorRef session)
    {
        if (_routes.TryGetValue(peer, out var entry) && entry.Session.Equals(session)) _routes.Remove(peer);
    }

    /// <summary>The peer a live session serves.</summary>
    public EndPoint? PeerOf(IActorRef session) => _live.TryGetValue(session, out var entry) ? entry.Peer : null;

    /// <summary>
    /// The session has stopped; a peer that waits for a place and now has one is returned, with its datagrams and the
    /// count of those that waited too long (<c>session.queue-max-delay</c>).
    /// </summary>
    public (IPEndPoint Peer, List<Udp.Received> Pending, int Stale)? Ended(IActorRef session)
    {
        if (!_live.Remove(session, out var entry)) return null;
        _evicting.Remove(session);
        _admission.Release(entry.Peer);
        if (_routes.TryGetValue(entry.Peer, out var routed) && routed.Session.Equals(session)) _routes.Remove(entry.Peer);
        if (_live.Count >= settings.MaxSessions || _parked.First is not { } first) return null;
        _parked.RemoveFirst();
        var pending = new List<Udp.Received>();
        var stale = first.Value.Pending.Drain(pending.Add);
        return (first.Value.Peer, pending, stale);
    }

    /// <summary>Gives up what waits for a place (the side stops); returns how many datagrams that was.</summary>
    public int DiscardParked()
    {
        var dropped = 0;
        foreach (var (peer, pending) in _parked)
        {
            dropped += pending.Discard();
            _admission.Release(peer);
        }
        _parked.Clear();
        return dropped;
    }

    private DatagramQueue? ParkedFor(IPEndPoint peer)
    {
        foreach (var (parked, pending) in _parked)
            if (parked.Equals(peer)) return pending;
        return null;
    }

    /// <summary>Tells the oldest never-answered session to give up its place; false when every session has had answers.</summary>
    private bool EvictOne()
    {
        Entry? oldest = null;
        foreach (var entry in _routes.Values)
            if (!entry.Activity.FromTunnel && !_evicting.Contains(entry.Session) && (oldest is null || entry.Order < oldest.Order)) oldest = entry;
        if (oldest is null) return false;
        _evicting.Add(oldest.Session);
        oldest.Session.Tell(UdpSession.Evict.Instance);
        return true;
    }
}
