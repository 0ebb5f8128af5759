using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Numerics;
using System.Security.Cryptography;

namespace TunnelActors.Cli.Bench.Load;

/// <summary>
/// Phantom peers sending numbered, timestamped, checksummed datagrams to one target and checking every
/// reply: which peer and datagram it answers, whether it arrived on that peer's socket, intact, once, in order.
/// Closed loop: each peer keeps at most <see cref="LoadOptions.Window"/> datagrams outstanding and sends a new
/// one for each answered or written-off one. Open loop: <see cref="LoadOptions.Rate"/> datagrams per second
/// over all peers in turn, paced by a driver thread in millisecond steps.
/// Replies are handled by one asynchronous receive loop per socket; the driver moves through the phases.
/// </summary>
internal sealed class LoadGenerator : IDisposable
{
    private static readonly TimeSpan SweepInterval = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(500);
    private static readonly double NanosecondsPerTick = 1e9 / Stopwatch.Frequency;
    private const int FairnessBurst = 64;

    private readonly LoadOptions _options;
    private readonly Peer[] _peers;
    private readonly uint _run;
    private readonly SocketAddress _target;
    private readonly ThreadLocal<LatencyHistogram> _rtts = new(() => new LatencyHistogram(), trackAllValues: true);
    private readonly long _timeoutTicks;
    private readonly long _gap;
    private readonly int _ring;
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
        _ring = options.ClosedLoop ? (int)Math.Max(256, BitOperations.RoundUpToPowerOf2((uint)options.Window * 8)) : 0;
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
                _peers[i] = new Peer(i, socket, _target, _run, pattern, options.Size, _ring);
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
        // The asynchronous receive loops run on the thread pool whatever the caller's synchronization context (a test
        // runner's few threads would starve them); the driver has a thread of its own, as it sleeps between its steps.
        var receivers = ThreadPerSocket
            ? _peers.Select(peer => OwnThread(() => ReceiveLoop(peer))).ToArray()
            : _peers.Select(peer => Task.Run(() => ReceiveLoopAsync(peer))).ToArray();
        var window = await OwnThread(() => Drive(progress, cancellation)).ConfigureAwait(false);
        _stopping = true;
        foreach (var peer in _peers) peer.Dispose();
        await Task.WhenAll(receivers).ConfigureAwait(false);
        return Report(window);
    }

    /// <summary>
    /// Few peers: each socket gets a thread of its own, blocked in its receive and woken straight by the kernel, with
    /// no event loop and no failed try per datagram: about a quarter more round trips per second for one peer.
    /// </summary>
    private bool ThreadPerSocket => _options.Peers <= Environment.ProcessorCount;

    private static Task<T> OwnThread<T>(Func<T> work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private static Task OwnThread(Action work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

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
            // Open loop: pace in millisecond steps. Closed loop: the replies drive the sends; only sweeps are due here.
            Thread.Sleep(_options.ClosedLoop ? SweepInterval : TimeSpan.FromMilliseconds(1));
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

    private void ReceiveLoop(Peer socketOwner)
    {
        var buffer = new byte[_options.Size + 1]; // one byte more: a longer datagram shows as a wrong length
        var source = new SocketAddress(_options.Target.AddressFamily);
        while (true)
        {
            int length;
            try
            {
                length = socketOwner.Socket.ReceiveFrom(buffer, SocketFlags.None, source);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (_stopping) return;
                continue; // an ICMP error reported on the socket
            }
            OnDatagram(socketOwner, buffer.AsSpan(0, length), source, Stopwatch.GetTimestamp());
        }
    }

    private async Task ReceiveLoopAsync(Peer socketOwner)
    {
        var buffer = new byte[_options.Size + 1]; // one byte more: a longer datagram shows as a wrong length
        var source = new SocketAddress(_options.Target.AddressFamily);
        var inARow = 0;
        while (true)
        {
            int length;
            try
            {
                var receive = socketOwner.Socket.ReceiveFromAsync(buffer, SocketFlags.None, source);
                // A socket whose replies keep coming completes every receive at once and would keep its thread
                // forever; now and then let the other sockets' loops run.
                if (!receive.IsCompleted) inARow = 0;
                else if (++inARow == FairnessBurst)
                {
                    inARow = 0;
                    await Task.Yield();
                }
                length = await receive.ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (_stopping) return;
                continue; // an ICMP error reported on the socket
            }
            OnDatagram(socketOwner, buffer.AsSpan(0, length), source, Stopwatch.GetTimestamp());
        }
    }

    private void OnDatagram(Peer socketOwner, ReadOnlySpan<byte> datagram, SocketAddress source, long now)
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
        var sequence = header.Sequence;
        lock (peer.Gate)
        {
            if (sequence >= peer.NextSequence)
            {
                arrivals.BadHeader++;
                return;
            }
            var measured = peer.IsMeasured(sequence);
            var counters = peer.Counters;
            if (measured && peer != socketOwner) counters.Misdelivered++;
            if (peer.Replied.Get(sequence))
            {
                if (measured) counters.Duplicated++;
                return;
            }
            peer.Replied.Set(sequence);
            peer.RepliedAll++;
            if (sequence >= peer.Cursor && peer.InFlight > 0) peer.InFlight--;
            if (sequence < peer.MaxReplied)
            {
                if (measured) counters.Reordered++;
            }
            else
            {
                peer.MaxReplied = sequence;
            }
            if (measured)
            {
                counters.Received++;
                _rtts.Value!.Record((long)((now - header.Timestamp) * NanosecondsPerTick));
            }
            if (_options.ClosedLoop) ExpireAndRefill(peer, now);
        }
    }

    /// <summary>
    /// Closed loop, under the peer's lock: writes off the oldest outstanding datagrams that timed out or that
    /// much newer replies overtook, then fills the window again.
    /// </summary>
    private void ExpireAndRefill(Peer peer, long now)
    {
        while (peer.Cursor < peer.NextSequence)
        {
            var sequence = peer.Cursor;
            if (!peer.Replied.Get(sequence))
            {
                var overdue = now - peer.SentAt(sequence) > _timeoutTicks
                              || peer.MaxReplied >= sequence + _gap
                              || peer.NextSequence - sequence >= _ring;
                if (!overdue) break;
                if (peer.InFlight > 0) peer.InFlight--;
                peer.Counters.WindowExpired++;
            }
            peer.Cursor++;
        }
        if (_sending && peer.InFlight < _options.Window) peer.Send(_options.Window - peer.InFlight);
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
        var arrivals = new ArrivalCounters();
        foreach (var a in _peers.Select(p => p.Arrivals))
        {
            arrivals.Short += a.Short;
            arrivals.BadHeader += a.BadHeader;
            arrivals.BadLength += a.BadLength;
            arrivals.BadChecksum += a.BadChecksum;
            arrivals.Stale += a.Stale;
            arrivals.ForeignSource += a.ForeignSource;
        }
        long Sum(Func<PeerCounters, long> count) => _peers.Sum(p => count(p.Counters));
        var seconds = Math.Max(1e-9, Stopwatch.GetElapsedTime(window.Start, window.End).TotalSeconds);
        return new LoadReport(_options, seconds, window.Interrupted,
            Sum(c => c.Sent), Sum(c => c.Received), Sum(c => c.Duplicated), Sum(c => c.Reordered), Sum(c => c.Misdelivered),
            Sum(c => c.TxFail), Sum(c => c.WindowExpired), _peers.Sum(p => p.NextSequence), _peers.Sum(p => p.RepliedAll),
            arrivals, Latency.From(rtts));
    }

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    public void Dispose()
    {
        foreach (var peer in _peers) peer?.Dispose();
        _rtts.Dispose();
    }
}
