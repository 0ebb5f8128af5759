using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace TunnelActors.Cli.Bench.Load;

/// <summary>
/// One phantom peer: its own UDP socket (its own source port) and the state of its numbered datagrams.
/// Everything but <see cref="Socket"/> and <see cref="Arrivals"/> is guarded by <see cref="Gate"/>.
/// </summary>
internal sealed class Peer : IDisposable
{
    private readonly byte[] _datagram;
    private readonly PayloadPattern _pattern;
    private readonly SocketAddress _target;
    private readonly uint _run;
    private readonly long[]? _sendTimes;
    private readonly long _ringMask;

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
    public ArrivalCounters Arrivals { get; } = new();
    public PeerCounters Counters { get; } = new();
    public SequenceBitmap Replied { get; } = new();

    public long NextSequence { get; private set; }

    /// <summary>The first sequence number sent during the measurement; earlier ones are warm-up.</summary>
    public long FirstMeasured { get; private set; } = long.MaxValue;

    /// <summary>Highest sequence number replied so far, -1 before the first.</summary>
    public long MaxReplied { get; set; } = -1;

    /// <summary>Sent and neither answered nor written off.</summary>
    public int InFlight { get; set; }

    /// <summary>Closed loop: every sequence number below it is answered or written off.</summary>
    public long Cursor { get; set; }

    /// <summary>First valid replies, warm-up included.</summary>
    public long RepliedAll { get; set; }

    public void StartMeasuring() => FirstMeasured = NextSequence;

    public bool IsMeasured(long sequence) => sequence >= FirstMeasured;

    /// <summary>Closed loop: when datagram <paramref name="sequence"/> was sent (Stopwatch ticks).</summary>
    public long SentAt(long sequence) => _sendTimes![sequence & _ringMask];

    /// <summary>Sends up to <paramref name="count"/> datagrams; returns how many the kernel accepted.</summary>
    public int Send(int count)
    {
        Replied.EnsureCapacity(NextSequence + count);
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
                if (IsMeasured(sequence)) Counters.TxFail += count - i;
                return i;
            }
            if (_sendTimes is not null) _sendTimes[sequence & _ringMask] = now;
            NextSequence = sequence + 1;
            InFlight++;
            if (IsMeasured(sequence)) Counters.Sent++;
        }
        return count;
    }

    public void Dispose() => Socket.Dispose();
}
