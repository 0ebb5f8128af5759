namespace TunnelActors.Tools.Bench.Load;

/// <summary>Running totals, warm-up included, while the load runs (read without locks, so only roughly consistent).</summary>
internal readonly record struct LoadProgress(LoadPhase Phase, TimeSpan Elapsed, long Sent, long Received, long Misdelivered, long Corrupted);

internal enum LoadPhase { WarmUp, Measuring, Draining }
