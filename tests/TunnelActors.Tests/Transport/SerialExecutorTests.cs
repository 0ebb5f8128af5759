using Akka.Dispatch;
using TunnelActors.Transport;
using Xunit;

namespace TunnelActors.Tests.Transport;

/// <summary>
/// The serial executor runs work on the thread that hands it, one item at a time; between <c>Defer</c> and
/// <c>RunDeferred</c> (a receiving thread telling a batch of datagrams) it only queues, and then runs the lot in order.
/// </summary>
public sealed class SerialExecutorTests
{
    [Fact]
    public void Work_runs_at_once_on_the_thread_that_hands_it()
    {
        var executor = new SerialExecutor("test");
        var ranOn = -1;
        executor.Execute(new ActionRunnable(() => ranOn = Environment.CurrentManagedThreadId));
        Assert.Equal(Environment.CurrentManagedThreadId, ranOn);
    }

    [Fact]
    public void Deferred_work_waits_until_RunDeferred_and_then_runs_in_order_on_this_thread()
    {
        var first = new SerialExecutor("first");
        var second = new SerialExecutor("second");
        var ran = new List<(string, int)>();
        SerialExecutor.Defer();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var n = i;
                first.Execute(new ActionRunnable(() => ran.Add(("first", n))));
                second.Execute(new ActionRunnable(() => ran.Add(("second", n))));
            }
            Assert.Empty(ran);
        }
        finally
        {
            SerialExecutor.RunDeferred();
        }
        Assert.Equal([("first", 0), ("first", 1), ("first", 2), ("second", 0), ("second", 1), ("second", 2)], ran);

        // Deferring has ended: the next work runs at once again.
        first.Execute(new ActionRunnable(() => ran.Add(("first", 3))));
        Assert.Equal(("first", 3), ran[^1]);
    }

    [Fact]
    public void Work_handed_on_by_deferred_work_runs_in_the_same_drain()
    {
        var executor = new SerialExecutor("test");
        var ran = new List<string>();
        SerialExecutor.Defer();
        executor.Execute(new ActionRunnable(() =>
        {
            ran.Add("datagram");
            executor.Execute(new ActionRunnable(() => ran.Add("what it told")));
        }));
        SerialExecutor.RunDeferred();
        Assert.Equal(["datagram", "what it told"], ran);
    }
}
