using System.Collections.Concurrent;
using Akka.Configuration;
using Akka.Dispatch;

namespace TunnelActors;

/// <summary>
/// Runs actors on a few threads of their own (<c>dedicated-thread-executor.threads</c>, default 1) that sleep
/// when there is nothing to run, without spinning, and wake only when work arrives. On .NET's thread pool an
/// actor hop to an idle actor woke a worker, which woke another, and so on: some thirty thread switches per
/// datagram at low rates, each costing more than the datagram. Every actor a datagram crosses, Akka.IO's
/// socket actors included, runs on the default dispatcher, built on this executor, so a datagram stays on
/// one thread from the moment its socket event arrives until it is sent on.
/// </summary>
public sealed class DedicatedThreadExecutorConfigurator(Config config, IDispatcherPrerequisites prerequisites)
    : ExecutorServiceConfigurator(config, prerequisites)
{
    public override ExecutorService Produce(string id) =>
        new DedicatedThreadExecutor(id, Math.Max(1, Config.GetInt("dedicated-thread-executor.threads", 1)));
}

internal sealed class DedicatedThreadExecutor : ExecutorService
{
    private readonly ConcurrentQueue<IRunnable> _work = new();
    private readonly object _gate = new();
    private int _sleeping;
    private int _wakeRequested;
    private volatile bool _stopping;

    public DedicatedThreadExecutor(string id, int threads) : base(id)
    {
        for (var i = 0; i < threads; i++)
            new Thread(Run) { IsBackground = true, Name = threads == 1 ? id : $"{id}-{i}" }.Start();
    }

    public override void Execute(IRunnable run)
    {
        _work.Enqueue(run);
        // The enqueue above is a full fence: a thread that went to sleep before it is seen here. One wake-up
        // at a time: work that arrives while a woken thread is on its way is found by that thread.
        if (Volatile.Read(ref _sleeping) == 0 || Interlocked.Exchange(ref _wakeRequested, 1) == 1) return;
        lock (_gate) Monitor.Pulse(_gate);
    }

    public override void Shutdown()
    {
        _stopping = true;
        lock (_gate) Monitor.PulseAll(_gate);
    }

    private void Run()
    {
        while (!_stopping)
        {
            while (_work.TryDequeue(out var run)) run.Run();
            lock (_gate)
            {
                Interlocked.Increment(ref _sleeping);
                // A wake-up requested before this point was for work this thread is about to see; one
                // requested after it pulses once this thread waits (the pulse needs the lock held here).
                Interlocked.Exchange(ref _wakeRequested, 0);
                if (_work.IsEmpty && !_stopping) Monitor.Wait(_gate);
                Interlocked.Decrement(ref _sleeping);
            }
        }
    }
}
