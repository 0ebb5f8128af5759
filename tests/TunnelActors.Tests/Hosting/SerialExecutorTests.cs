using System.Diagnostics;
using Akka.Dispatch;
using Xunit;
using TunnelActors.Transport;

namespace TunnelActors.Tests.Hosting;

public sealed class SerialExecutorTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    /// <summary>How many pieces of work run at the same moment, at most.</summary>
    private sealed class Overlap
    {
        private int _running;
        private int _most;

        public int Most => Volatile.Read(ref _most);

        public void Enter()
        {
            var now = Interlocked.Increment(ref _running);
            int most;
            while (now > (most = Volatile.Read(ref _most)) && Interlocked.CompareExchange(ref _most, now, most) != most) { }
        }

        public void Leave() => Interlocked.Decrement(ref _running);
    }

    /// <summary>A piece of work that keeps its thread busy, then queues itself again, a number of times.</summary>
    private sealed class BusyWork(SerialExecutor executor, Overlap overlap, int times, TimeSpan each) : IRunnable
    {
        private int _runs;
        public readonly TaskCompletionSource Done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Called as each piece starts, on the thread that runs it.</summary>
        public Action? Starting { get; set; }

        public void Run()
        {
            Starting?.Invoke();
            overlap.Enter();
            var until = Stopwatch.GetTimestamp() + (long)(each.TotalSeconds * Stopwatch.Frequency);
            while (Stopwatch.GetTimestamp() < until) { }
            overlap.Leave();
            if (++_runs < times) executor.Execute(this);
            else Done.SetResult();
        }

        public void Execute() => Run();
    }

    [Fact]
    public async Task A_caller_runs_work_only_until_its_slice_is_spent_and_the_rest_runs_elsewhere_one_at_a_time()
    {
        var executor = new SerialExecutor("test");
        var overlap = new Overlap();
        var work = new BusyWork(executor, overlap, times: 20, each: TimeSpan.FromMilliseconds(20));
        // Pieces that start on the calling thread before Execute returns are the ones it was held for (after it
        // returns, the pool may hand the same thread a piece again: not counted).
        var caller = Environment.CurrentManagedThreadId;
        var returned = false;
        var ranByCaller = 0;
        work.Starting = () =>
        {
            if (!Volatile.Read(ref returned) && Environment.CurrentManagedThreadId == caller) Interlocked.Increment(ref ranByCaller);
        };

        executor.Execute(work);
        Volatile.Write(ref returned, true);

        // 400 ms of work: the caller ran the first piece (20 ms, longer than the 1 ms slice) and left the rest.
        Assert.Equal(1, Volatile.Read(ref ranByCaller));
        await work.Done.Task.WaitAsync(Wait);
        Assert.Equal(1, overlap.Most);
    }

    [Fact]
    public async Task Work_handed_in_from_many_threads_all_runs_one_at_a_time()
    {
        var executor = new SerialExecutor("test");
        var overlap = new Overlap();
        var pieces = Enumerable.Range(0, 8).Select(_ => new BusyWork(executor, overlap, times: 20, each: TimeSpan.FromMilliseconds(1))).ToList();
        using var start = new Barrier(pieces.Count);
        var threads = pieces.Select(piece => new Thread(() =>
        {
            start.SignalAndWait();
            executor.Execute(piece);
        })).ToList();
        threads.ForEach(thread => thread.Start());
        await Task.WhenAll(pieces.Select(piece => piece.Done.Task)).WaitAsync(Wait);
        // No two pieces ever ran at the same moment, whichever threads handed them in.
        Assert.Equal(1, overlap.Most);
    }
}
