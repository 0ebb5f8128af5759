using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Numerics;
using System.Security.Cryptography;
using TunnelActors.Tools.Bench;

namespace TunnelActors.Tools.Bench.Load;

/// <summary>
/// Phantom peers sending numbered, timestamped, checksummed datagrams to one target and checking every
/// reply: which peer and datagram it answers, whether it arrived on that peer's socket, intact, once, in order.
/// Closed loop: each peer keeps at most <see cref="LoadOptions.Window"/> datagrams outstanding and sends a new
/// one for each answered or written-off one. Open loop: <see cref="LoadOptions.Rate"/> datagrams per second
/// over all peers in turn, each sent when it is due by a driver thread. Each socket has a receive loop (a thread
/// of its own for a few peers, else asynchronous); the driver moves through the phases.
/// </summary>
internal sealed class LoadGenerator : IDisposable
{
    private static readonly TimeSpan SweepInterval = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan MaxPacingStep = TimeSpan.FromMilliseconds(1);
    private static readonly double NanosecondsPerTick = 1e9 / Stopwatch.Frequency;

    private readonly LoadOptions _options;
    private readonly Peer[] _peers;
    private readonly uint _run;
    private readonly SocketAddress _target;
    private readonly ThreadLocal<LatencyHistogram> _rtts = new(() => new LatencyHistogram(), trackAllValues: true);
    private readonly long _timeoutTicks;
    private readonly long _gap;
    private volatile bool _sending;
    private volatile bool _stopping;

    public LoadGenerator(LoadOptions options)
    {
        _options = options;
        _run = (uint)RandomNumberGenerator.GetInt32(1, int.MaxValue);
        _target = options.Target.Serialize();
        _timeoutTicks = Ticks(options.Timeout);
        // A datagram this far behind the newest reply is written off, so that a loss frees its slot quickly.
        _gap = Math.Max(64, 4L * options.Window);
        var sendTimeRing = options.ClosedLoop ? (int)Math.Max(256, BitOperations.RoundUpToPowerOf2((uint)options.Window * 8)) : 0;
        var pattern = new PayloadPattern(options.Size - DatagramHeader.Size, (int)_run);
        _peers = new Peer[options.Peers];
        try
        {
            for (var i = 0; i < _peers.Length; i++)
            {
                var socket = SocketSetup.Udp(options.PeerEndPoint(i), reuseAddress: options.ReuseAddress);
                // Asynchronous receive loops: a send the kernel refuses is counted (tx_fail), not waited for. A thread per
                // socket blocks in its receive instead, and then in a send the kernel cannot take at once.
                socket.Blocking = ThreadPerSocket;
                _peers[i] = new Peer(i, socket, _target, _run, pattern, options.Size, sendTimeRing);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public static async Task<LoadReport> RunAsync(LoadOptions options, Action<LoadProgress>? progress = null, CancellationToken cancellation = default)
    {
        using var generator = new LoadGenerator(options);
        return await generator.RunAsync(progress, cancellation).ConfigureAwait(false);
    }

    public async Task<LoadReport> RunAsync(Action<LoadProgress>? progress, CancellationToken cancellation)
    {
        var loops = new ReceiveLoops(_options.Size, _options.Target.AddressFamily, OnDatagram, () => _stopping);
        var receivers = _peers.Select(peer => loops.Start(peer, ThreadPerSocket)).ToArray();
        // The driver has a thread of its own, as it sleeps between its steps.
        var window = await Task.Factory.StartNew(() => Drive(progress, cancellation),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        _stopping = true;
        foreach (var peer in _peers) peer.Dispose();
        await Task.WhenAll(receivers).ConfigureAwait(false);
        return Report(window);
    }

    /// <summary>As many peers as cores or fewer: each socket gets a thread of its own (see <see cref="ReceiveLoops"/>).</summary>
    private bool ThreadPerSocket => _options.Peers <= Environment.ProcessorCount;

    private readonly record struct Window(long Start, long End, bool Interrupted);

    /// <summary>Warm-up, measurement, drain; returns the measurement's start and end (Stopwatch ticks).</summary>
    private Window Drive(Action<LoadProgress>? progress, CancellationToken cancellation)
    {
        var start = Stopwatch.GetTimestamp();
        var measureAt = start + Ticks(_options.Warmup);
        var endAt = measureAt + Ticks(_options.Duration);
        long measureStart = 0, measureEnd = 0, drainUntil = 0, scheduled = 0;
        long lastSweep = start, lastProgress = start;
        var interrupted = false;
        var phase = LoadPhase.WarmUp;

        void Measure(long now)
        {
            foreach (var peer in _peers)
                lock (peer.Gate) peer.StartMeasuring();
            measureStart = now;
            phase = LoadPhase.Measuring;
        }

        void Drain(long now)
        {
            _sending = false;
            measureEnd = now;
            drainUntil = now + Ticks(_options.Drain);
            phase = LoadPhase.Draining;
        }

        FineSleep.SharpenThisThread();
        if (_options.Warmup <= TimeSpan.Zero) Measure(start);
        _sending = true;
        if (_options.ClosedLoop)
            foreach (var peer in _peers)
                lock (peer.Gate) peer.Send(_options.Window);

        while (true)
        {
            var now = Stopwatch.GetTimestamp();
            if (cancellation.IsCancellationRequested && phase != LoadPhase.Draining)
            {
                interrupted = true;
                if (phase == LoadPhase.WarmUp) Measure(now);
                Drain(now);
            }
            // Open loop: whatever was due before a phase ends is sent in that phase, and the phases end on time, however
            // late this thread woke up. Closed loop: the phases end when this thread sees them end.
            if (_options.Rate is { } rate && phase != LoadPhase.Draining)
                scheduled = SendDue(rate, Math.Min(now, phase == LoadPhase.WarmUp ? measureAt : endAt) - start, scheduled);
            if (phase == LoadPhase.WarmUp && now >= measureAt) Measure(_options.ClosedLoop ? now : measureAt);
            if (phase == LoadPhase.Measuring && now >= endAt) Drain(_options.ClosedLoop ? now : endAt);
            if (phase == LoadPhase.Draining && (AllAnswered() || now >= drainUntil)) break;
            if (_options.ClosedLoop && now - lastSweep >= Ticks(SweepInterval))
            {
                foreach (var peer in _peers)
                    lock (peer.Gate) ExpireAndRefill(peer, now);
                lastSweep = now;
            }
            if (progress is not null && now - lastProgress >= Ticks(ProgressInterval))
            {
                progress(Progress(phase, Stopwatch.GetElapsedTime(start, now)));
                lastProgress = now;
            }
            if (_options.Rate is { } pps) FineSleep.For(UntilNextDue(pps, start, scheduled));
            else Thread.Sleep(SweepInterval); // closed loop: the replies drive the sends; only sweeps are due here
        }
        return new Window(measureStart, measureEnd, interrupted);
    }

    /// <summary>Open loop: sends the datagrams due by now, number j from peer j mod K; returns how many are sent so far.</summary>
    private long SendDue(double rate, long elapsedTicks, long scheduled)
    {
        const long maxBurst = 4096; // after a stall, catch up over several steps
        var due = (long)(elapsedTicks / (double)Stopwatch.Frequency * rate) + 1;
        var count = Math.Min(due - scheduled, maxBurst);
        if (count <= 0) return scheduled;
        var peers = _peers.Length;
        for (var k = 0; k < Math.Min(peers, count); k++)
        {
            var peer = _peers[(scheduled + k) % peers];
            lock (peer.Gate) peer.Send((int)((count - k + peers - 1) / peers));
        }
        return scheduled + count;
    }

    /// <summary>Open loop: how long until the next datagram is due, at most a millisecond (the phases and progress need a look now and then).</summary>
    private static TimeSpan UntilNextDue(double rate, long start, long scheduled)
    {
        var due = start + (long)(scheduled / rate * Stopwatch.Frequency);
        var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
        return wait < TimeSpan.Zero ? TimeSpan.Zero : wait > MaxPacingStep ? MaxPacingStep : wait;
    }

    private void OnDatagram(Peer socketOwner, ReadOnlySpan<byte> datagram, SocketAddress source, long receivedAt)
    {
        var arrivals = socketOwner.Arrivals;
        switch (DatagramHeader.TryRead(datagram, out var header))
        {
            case DatagramHeader.Verdict.Short: arrivals.Short++; return;
            case DatagramHeader.Verdict.BadHeader: arrivals.BadHeader++; return;
            case DatagramHeader.Verdict.BadLength: arrivals.BadLength++; return;
            case DatagramHeader.Verdict.BadChecksum: arrivals.BadChecksum++; return;
        }
        if (header.Run != _run)
        {
            arrivals.Stale++;
            return;
        }
        if (header.Peer >= _peers.Length)
        {
            arrivals.BadHeader++;
            return;
        }
        if (!source.Equals(_target)) arrivals.ForeignSource++;

        var peer = _peers[header.Peer];
        lock (peer.Gate)
        {
            switch (peer.Book(header.Sequence, onOwnSocket: peer == socketOwner))
            {
                case Peer.Reply.Unknown:
                    arrivals.BadHeader++;
                    return;
                case Peer.Reply.FirstMeasured:
                    _rtts.Value!.Record((long)((receivedAt - header.Timestamp) * NanosecondsPerTick));
                    break;
            }
            if (_options.ClosedLoop) ExpireAndRefill(peer, receivedAt);
        }
    }

    /// <summary>Closed loop, under the peer's lock: frees the slots of overdue datagrams, then fills the window again.</summary>
    private void ExpireAndRefill(Peer peer, long now)
    {
        peer.WriteOffOverdue(now, _timeoutTicks, _gap);
        if (_sending) peer.Refill(_options.Window);
    }

    private bool AllAnswered()
    {
        foreach (var peer in _peers)
            lock (peer.Gate)
                if (_options.ClosedLoop ? peer.InFlight > 0 : peer.RepliedAll < peer.NextSequence)
                    return false;
        return true;
    }

    private LoadProgress Progress(LoadPhase phase, TimeSpan elapsed) => new(phase, elapsed,
        _peers.Sum(p => p.NextSequence), _peers.Sum(p => p.RepliedAll),
        _peers.Sum(p => p.Counters.Misdelivered), _peers.Sum(p => p.Arrivals.Corrupted));

    private LoadReport Report(Window window)
    {
        var rtts = new LatencyHistogram();
        foreach (var histogram in _rtts.Values) rtts.Add(histogram);
        var seconds = Math.Max(1e-9, Stopwatch.GetElapsedTime(window.Start, window.End).TotalSeconds);
        return LoadReport.Collect(_options, seconds, window.Interrupted, _peers, rtts);
    }

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    public void Dispose()
    {
        foreach (var peer in _peers) peer?.Dispose();
        _rtts.Dispose();
    }
}
