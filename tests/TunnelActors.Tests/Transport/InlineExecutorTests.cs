using System.Diagnostics;
using Akka.Dispatch;
using TunnelActors.Transport;
using Xunit;

namespace TunnelActors.Tests.Transport;

/// <summary>
/// The inline executor runs work on the thread that hands it; work handed on meanwhile runs after it on the same thread,
/// never nested; between <c>Defer</c> and <c>RunDeferred</c> (a receiving thread telling a batch of datagrams) it only
/// queues; no caller is held past its slice; and threads run their work side by side.
/// </summary>
public sealed class InlineExecutorTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public void Work_runs_at_once_on_the_thread_that_hands_it()
    {
        var executor = new InlineExecutor("test");
        var ranOn = -1;
        executor.Execute(new ActionRunnable(() => ranOn = Environment.CurrentManagedThreadId));
        Assert.Equal(Environment.CurrentManagedThreadId, ranOn);
    }

    [Fact]
    public void Work_handed_on_runs_after_the_work_that_handed_it_never_inside_it()
    {
        var executor = new InlineExecutor("test");
        var ran = new List<string>();
        executor.Execute(new ActionRunnable(() =>
        {
            executor.Execute(new ActionRunnable(() => ran.Add("told")));
            ran.Add("teller done");
        }));
        Assert.Equal(["teller done", "told"], ran);
    }

    [Fact]
    public void Deferred_work_waits_until_RunDeferred_and_then_runs_in_order_on_this_thread()
    {
        var executor = new InlineExecutor("test");
        var ran = new List<(int, int)>();
        using var all = new CountdownEvent(3);
        InlineExecutor.Defer();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var n = i;
                executor.Execute(new ActionRunnable(() =>
                {
                    lock (ran) ran.Add((n, Environment.CurrentManagedThreadId));
                    all.Signal();
                }));
            }
            lock (ran) Assert.Empty(ran);
        }
        finally
        {
            InlineExecutor.RunDeferred();
        }
        var here = Environment.CurrentManagedThreadId;
        Assert.True(all.Wait(Wait));
        // In order, the first here; the rest here too unless this thread's slice ran out first (a slow machine: the
        // first call compiles), when what was left moved on, together, to one thread-pool thread.
        Assert.Equal([0, 1, 2], ran.Select(r => r.Item1));
        Assert.Equal(here, ran[0].Item2);
        var movedOn = ran.Skip(1).SkipWhile(r => r.Item2 == here).ToList();
        Assert.True(movedOn.Select(r => r.Item2).Distinct().Count() <= 1 && movedOn.All(r => r.Item2 != here), $"ran on {string.Join(", ", ran)}");

        // Deferring has ended: the next work runs at once again.
        executor.Execute(new ActionRunnable(() => { lock (ran) ran.Add((3, Environment.CurrentManagedThreadId)); }));
        Assert.Equal((3, here), ran[^1]);
    }

    [Fact]
    public async Task A_caller_runs_work_only_until_its_slice_is_spent_and_the_rest_runs_on_the_thread_pool()
    {
        var executor = new InlineExecutor("test");
        var caller = Environment.CurrentManagedThreadId;
        var returned = false;
        var ranByCaller = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var left = 20;
        void Piece()
        {
            if (!Volatile.Read(ref returned) && Environment.CurrentManagedThreadId == caller) Interlocked.Increment(ref ranByCaller);
            Spin(TimeSpan.FromMilliseconds(5));
            if (Interlocked.Decrement(ref left) > 0) executor.Execute(new ActionRunnable(Piece));
            else done.SetResult();
        }

        executor.Execute(new ActionRunnable(Piece));
        Volatile.Write(ref returned, true);

        // 100 ms of work: the caller ran the first piece (5 ms, longer than the 1 ms slice) and left the rest.
        Assert.Equal(1, Volatile.Read(ref ranByCaller));
        await done.Task.WaitAsync(Wait);
    }

    [Fact]
    public async Task Threads_run_their_own_work_side_by_side()
    {
        var executor = new InlineExecutor("test");
        var running = 0;
        var most = 0;
        using var start = new Barrier(2);
        var threads = Enumerable.Range(0, 2).Select(_ => Task.Factory.StartNew(() =>
        {
            start.SignalAndWait();
            executor.Execute(new ActionRunnable(() =>
            {
                var now = Interlocked.Increment(ref running);
                InterlockedMax(ref most, now);
                // Each holds its thread until the other has started too (or the wait runs out: then most stays 1).
                SpinWait.SpinUntil(() => Volatile.Read(ref most) == 2, Wait);
                Interlocked.Decrement(ref running);
            }));
        }, TaskCreationOptions.LongRunning)).ToArray();
        await Task.WhenAll(threads).WaitAsync(Wait * 2);
        Assert.Equal(2, most);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while (value > (seen = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
    }

    private static void Spin(TimeSpan time)
    {
        var until = Stopwatch.GetTimestamp() + (long)(time.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < until) { }
    }
}
