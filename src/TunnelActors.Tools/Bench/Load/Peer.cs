using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace TunnelActors.Tools.Bench.Load;

/// <summary>
/// One phantom peer: its own UDP socket (its own source port) and the book of its numbered datagrams: which
/// were sent, answered, written off. Every member but <see cref="Socket"/> and <see cref="Arrivals"/> is to be
/// used under <see cref="Gate"/>.
/// </summary>
internal sealed class Peer : IDisposable
{
    private readonly byte[] _datagram;
    private readonly PayloadPattern _pattern;
    private readonly SocketAddress _target;
    private readonly uint _run;
    private readonly SequenceBitmap _replied = new();
    private readonly long[]? _sendTimes;
    private readonly long _ringMask;
    private long _maxReplied = -1;
    private long _cursor;

    /// <param name="sendTimeRing">Closed loop: how many send times to keep (a power of two); 0 for the open loop.</param>
    public Peer(int id, Socket socket, SocketAddress target, uint run, PayloadPattern pattern, int size, int sendTimeRing)
    {
        Id = id;
        Socket = socket;
        _target = target;
        _run = run;
        _pattern = pattern;
        _datagram = new byte[size];
        if (sendTimeRing > 0)
        {
            _sendTimes = new long[sendTimeRing];
            _ringMask = sendTimeRing - 1;
        }
    }

    public int Id { get; }
    public Socket Socket { get; }
    public Lock Gate { get; } = new();

    /// <summary>What arrived on this socket that belongs to no datagram of this run; its receive loop alone writes it.</summary>
    public ArrivalCounters Arrivals { get; } = new();

    public PeerCounters Counters { get; } = new();

    public long NextSequence { get; private set; }

    /// <summary>First valid replies, warm-up included.</summary>
    public long RepliedAll { get; private set; }

    /// <summary>Sent and neither answered nor written off.</summary>
    public int InFlight { get; private set; }

    /// <summary>The first sequence number sent during the measurement; earlier ones are warm-up.</summary>
    private long FirstMeasured { get; set; } = long.MaxValue;

    public void StartMeasuring() => FirstMeasured = NextSequence;

    /// <summary>Sends up to <paramref name="count"/> datagrams; returns how many the kernel accepted.</summary>
    public int Send(int count)
    {
        _replied.EnsureCapacity(NextSequence + count);
        var body = _datagram.AsSpan(DatagramHeader.Size);
        for (var i = 0; i < count; i++)
        {
            var sequence = NextSequence;
            var bodyCrc = _pattern.CopyBody(sequence, body);
            var now = Stopwatch.GetTimestamp();
            new DatagramHeader(_run, (uint)Id, _datagram.Length, sequence, now).Write(_datagram, bodyCrc);
            try
            {
                Socket.SendTo(_datagram, SocketFlags.None, _target);
            }
            catch (SocketException)
            {
                if (sequence >= FirstMeasured) Counters.TxFail += count - i;
                return i;
            }
            if (_sendTimes is not null) _sendTimes[sequence & _ringMask] = now;
            NextSequence = sequence + 1;
            InFlight++;
            if (sequence >= FirstMeasured) Counters.Sent++;
        }
        return count;
    }

    public enum Reply { Unknown, Duplicate, First, FirstMeasured }

    /// <summary>Books a valid reply to datagram <paramref name="sequence"/> of this peer.</summary>
    /// <param name="onOwnSocket">False: it came back to another peer's socket (misdelivered).</param>
    public Reply Book(long sequence, bool onOwnSocket)
    {
        if (sequence >= NextSequence) return Reply.Unknown;
        var measured = sequence >= FirstMeasured;
        if (measured && !onOwnSocket) Counters.Misdelivered++;
        if (_replied.Get(sequence))
        {
            if (measured) Counters.Duplicated++;
            return Reply.Duplicate;
        }
        _replied.Set(sequence);
        RepliedAll++;
        if (sequence >= _cursor && InFlight > 0) InFlight--; // below the cursor it was written off already
        if (sequence < _maxReplied)
        {
            if (measured) Counters.Reordered++;
        }
        else
        {
            _maxReplied = sequence;
        }
        if (!measured) return Reply.First;
        Counters.Received++;
        return Reply.FirstMeasured;
    }

    /// <summary>
    /// Closed loop: writes off the oldest outstanding datagrams that timed out, that replies at least
    /// <paramref name="gap"/> sequence numbers newer overtook, or whose send time is about to be overwritten.
    /// </summary>
    public void WriteOffOverdue(long now, long timeoutTicks, long gap)
    {
        while (_cursor < NextSequence)
        {
            var sequence = _cursor;
            if (!_replied.Get(sequence))
            {
                var overdue = now - _sendTimes![sequence & _ringMask] > timeoutTicks
                              || _maxReplied >= sequence + gap
                              || NextSequence - sequence > _ringMask;
                if (!overdue) break;
                if (InFlight > 0) InFlight--;
                Counters.WindowExpired++;
            }
            _cursor++;
        }
    }

    /// <summary>Closed loop: sends as many as keep <paramref name="window"/> outstanding.</summary>
    public void Refill(int window)
    {
        if (InFlight < window) Send(window - InFlight);
    }

    public void Dispose() => Socket.Dispose();
}
