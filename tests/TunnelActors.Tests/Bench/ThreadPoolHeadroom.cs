namespace TunnelActors.Tests.Bench;

/// <summary>
/// The test host itself blocks a few thread-pool threads with synchronous waits (vstest's message loop, xunit's
/// runner). On two cores the pool starts with about as many and adds one only every half second or so, which would
/// starve the load generator's receive loops, run in-process here, for that long.
/// </summary>
internal static class ThreadPoolHeadroom
{
    private const int Workers = 16;

    public static void Ensure()
    {
        ThreadPool.GetMinThreads(out var workers, out var io);
        if (workers < Workers) ThreadPool.SetMinThreads(Workers, io);
    }
}
