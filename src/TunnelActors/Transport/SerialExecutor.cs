using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Configuration;
using Akka.Dispatch;

namespace TunnelActors.Transport;

/// <summary>
/// Runs actors one at a time on whichever thread hands it work, the way a single-threaded event loop does:
/// the socket event thread that completes a receive runs the actors the datagram crosses, up to the send
/// that passes it on, and goes back to waiting for events. No thread is woken to take the work over.
/// On .NET's thread pool every actor hop to an idle actor woke a worker (and that worker often another):
/// tens of thread switches per datagram, each dearer than the datagram itself.
/// <para>
/// A thread that finds another already running leaves its work queued for that one. No caller is held
/// longer than <see cref="Slice"/>: work still queued then moves on to a thread-pool thread, so a flood
/// never keeps the scheduler's timer thread or a socket thread from its own work. Actors must not block
/// (none here does): whatever blocks holds up every actor on this dispatcher.
/// </para>
/// </summary>
public sealed class SerialExecutorConfigurator(Config config, IDispatcherPrerequisites prerequisites)
    : ExecutorServiceConfigurator(config, prerequisites)
{
    public override ExecutorService Produce(string id) => new SerialExecutor(id);
}

internal sealed class SerialExecutor(string id) : ExecutorService(id), IThreadPoolWorkItem
{
    /// <summary>The longest a calling thread runs actors before the rest moves to the thread pool.</summary>
    private static readonly long Slice = Stopwatch.Frequency / 1000;

    [ThreadStatic] private static List<SerialExecutor>? t_deferred;
    [ThreadStatic] private static bool t_deferring;

    private readonly ConcurrentQueue<IRunnable> _work = new();
    private int _running;

    /// <summary>
    /// Until <see cref="RunDeferred"/>, work this thread hands any serial executor is only queued: a receiving thread
    /// tells a whole batch of datagrams first, so each actor takes all of its share in one turn (and a tunnel
    /// connection writes them in one TCP write) instead of the first datagram going all the way before the second.
    /// </summary>
    public static void Defer() => t_deferring = true;

    /// <summary>Ends <see cref="Defer"/>: runs what was queued meanwhile, here unless another thread already runs it.</summary>
    public static void RunDeferred()
    {
        t_deferring = false;
        if (t_deferred is not { Count: > 0 } deferred) return;
        try
        {
            foreach (var executor in deferred)
                if (Interlocked.CompareExchange(ref executor._running, 1, 0) == 0) executor.Drain();
        }
        finally
        {
            deferred.Clear();
        }
    }

    public override void Execute(IRunnable run)
    {
        _work.Enqueue(run);
        if (t_deferring)
        {
            var deferred = t_deferred ??= [];
            if (!deferred.Contains(this)) deferred.Add(this);
            return;
        }
        if (Interlocked.CompareExchange(ref _running, 1, 0) == 0) Drain();
    }

    /// <summary>The thread-pool continuation of a drain that ran out of its slice; it holds the run flag.</summary>
    void IThreadPoolWorkItem.Execute() => Drain();

    /// <summary>Runs queued work while this thread holds the run flag.</summary>
    private void Drain()
    {
        while (true)
        {
            var until = Stopwatch.GetTimestamp() + Slice;
            while (_work.TryDequeue(out var next))
            {
                try
                {
                    next.Run();
                }
                catch
                {
                    // Akka's mailboxes catch what actors throw; should anything else, the next caller drains.
                    Interlocked.Exchange(ref _running, 0);
                    throw;
                }
                if (Stopwatch.GetTimestamp() < until || _work.IsEmpty) continue;
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
                return;
            }
            // A full fence: the emptiness check below must not be read before this store is seen. Work
            // enqueued by a caller that found the flag still set is picked up here.
            Interlocked.Exchange(ref _running, 0);
            if (_work.IsEmpty || Interlocked.CompareExchange(ref _running, 1, 0) != 0) return;
        }
    }

    public override void Shutdown() { }
}
