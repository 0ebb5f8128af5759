using System.Diagnostics;
using Akka.Configuration;
using Akka.Dispatch;

namespace TunnelActors.Transport;

/// <summary>
/// Runs an actor on the thread that hands it work, the way an event loop runs its handlers: the socket event thread
/// that completes a TCP read, or a UDP receive thread, carries a datagram through every actor up to the send that
/// passes it on, and no thread is woken to take it over. Each thread is a loop of its own: an actor that the running
/// one tells is queued on this thread and runs after it (never nested), and an actor that another thread runs
/// already takes the message in its turn there (Akka's mailbox runs an actor on one thread at a time). So as many
/// threads as bring work run actors at once, one per core at most: the receive threads (<c>tunnel.shards</c>) and
/// .NET's socket threads (one per core with inline completions).
/// <para>
/// No caller is held longer than <see cref="Slice"/>: what is still queued then moves on to a thread-pool thread, so
/// a flood never keeps the scheduler's timer thread or a socket thread from its own work. Actors must not block
/// (none here does): a blocked actor holds up the thread that ran it and what that thread had queued.
/// </para>
/// </summary>
public sealed class InlineExecutorConfigurator(Config config, IDispatcherPrerequisites prerequisites)
    : ExecutorServiceConfigurator(config, prerequisites)
{
    private static readonly InlineExecutor Shared = new("inline");

    public override ExecutorService Produce(string id) => Shared;
}

internal sealed class InlineExecutor(string id) : ExecutorService(id)
{
    /// <summary>The longest a calling thread runs actors before the rest moves to the thread pool.</summary>
    private static readonly long Slice = Stopwatch.Frequency / 1000;

    [ThreadStatic] private static Queue<IRunnable>? t_queue;
    // This thread is running its queue further up the stack, or deferring: work handed to any actor only queues.
    [ThreadStatic] private static bool t_busy;

    /// <summary>
    /// Until <see cref="RunDeferred"/>, work this thread hands any actor is only queued: a receiving thread tells a
    /// whole batch of datagrams first, so each actor takes all of its share in one turn (and a tunnel connection writes
    /// them in one TCP write) instead of the first datagram going all the way before the second.
    /// </summary>
    public static void Defer() => t_busy = true;

    /// <summary>Ends <see cref="Defer"/>: runs what was queued meanwhile, here.</summary>
    public static void RunDeferred()
    {
        t_busy = false;
        if (t_queue is { Count: > 0 } queue) Run(queue);
    }

    public override void Execute(IRunnable run)
    {
        var queue = t_queue ??= new Queue<IRunnable>();
        queue.Enqueue(run);
        if (!t_busy) Run(queue);
    }

    private static void Run(Queue<IRunnable> queue)
    {
        t_busy = true;
        var until = Stopwatch.GetTimestamp() + Slice;
        try
        {
            while (queue.TryDequeue(out var next))
            {
                next.Run();
                if (queue.Count > 0 && Stopwatch.GetTimestamp() >= until) break;
            }
        }
        finally
        {
            t_busy = false;
            // Out of time, or something threw past Akka's mailbox: the rest must not wait for this thread to come back.
            if (queue.Count > 0) ThreadPool.UnsafeQueueUserWorkItem(new Handoff([.. queue]), preferLocal: false);
            queue.Clear();
        }
    }

    public override void Shutdown() { }

    private sealed class Handoff(IRunnable[] work) : IThreadPoolWorkItem
    {
        public void Execute()
        {
            var queue = t_queue ??= new Queue<IRunnable>();
            foreach (var run in work) queue.Enqueue(run);
            Run(queue);
        }
    }
}
