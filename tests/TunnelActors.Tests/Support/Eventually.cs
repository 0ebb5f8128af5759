using Xunit;

namespace TunnelActors.Tests.Support;

/// <summary>Waits for a condition another process makes true (a line in its log), looking every 50 ms, failing with what it saw after the timeout.</summary>
public static class Eventually
{
    public static async Task TrueAsync(Func<bool> condition, TimeSpan timeout, Func<string> seen)
    {
        for (var deadline = DateTime.UtcNow + timeout; !condition();)
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"not within {timeout.TotalSeconds:0.#} s; saw: {seen()}");
            await Task.Delay(50);
        }
    }
}
