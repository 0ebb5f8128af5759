using System.Collections.Concurrent;
using Akka.Configuration;
using Akka.Dispatch;

namespace TunnelActors;

/// <summary>
/// Runs actors one at a time on whichever thread hands it work, the way a single-threaded event loop does:
/// the socket event thread that completes a receive runs the actors the datagram crosses, up to the send
/// that passes it on, and goes back to waiting for events. No thread is woken to take the work over.
/// On .NET's thread pool every actor hop to an idle actor woke a worker (and that worker often another):
/// tens of thread switches per datagram, each dearer than the datagram itself.
/// <para>
/// A thread that finds another already running keeps its work queued for that one. Actors must not block
/// (none here does): whatever blocks holds up every actor on this dispatcher.
/// </para>
/// </summary>
public sealed class SerialExecutorConfigurator(Config config, IDispatcherPrerequisites prerequisites)
    : ExecutorServiceConfigurator(config, prerequisites)
{
    public override ExecutorService Produce(string id) => new SerialExecutor(id);
}

internal sealed class SerialExecutor(string id) : ExecutorService(id)
{
    private readonly ConcurrentQueue<IRunnable> _work = new();
    private int _running;

    public override void Execute(IRunnable run)
    {
        _work.Enqueue(run);
        // Whoever runs drains the queue. A runner that stops after this enqueue checks the queue again.
        while (Interlocked.CompareExchange(ref _running, 1, 0) == 0)
        {
            try
            {
                while (_work.TryDequeue(out var next)) next.Run();
            }
            finally
            {
                // A full fence: the emptiness check below must not be read before this store is seen.
                Interlocked.Exchange(ref _running, 0);
            }
            if (_work.IsEmpty) return;
        }
    }

    public override void Shutdown() { }
}
