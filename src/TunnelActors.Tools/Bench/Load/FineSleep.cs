using System.Runtime.InteropServices;

namespace TunnelActors.Tools.Bench.Load;

/// <summary>
/// Sleeps shorter than a millisecond, for the open loop's pacing: .NET's own sleeps and waits count whole
/// milliseconds, which would send 10,000/s as bursts of ten. On Linux: nanosleep, with the calling thread's timer
/// slack cut from 50 µs to 1 ns. Elsewhere: a millisecond.
/// </summary>
internal static class FineSleep
{
    private const int SetTimerSlack = 29; // PR_SET_TIMERSLACK

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "nanosleep")]
    private static extern int NanoSleep(ref TimeSpec duration, IntPtr remaining);

    [DllImport("libc", EntryPoint = "prctl")]
    private static extern int Prctl(int option, nuint value, nuint unused2, nuint unused3, nuint unused4);

    /// <summary>Call once on the thread that will sleep.</summary>
    public static void SharpenThisThread()
    {
        if (OperatingSystem.IsLinux()) Prctl(SetTimerSlack, 1, 0, 0, 0);
    }

    public static void For(TimeSpan span)
    {
        if (!OperatingSystem.IsLinux())
        {
            Thread.Sleep(1);
            return;
        }
        var nanoseconds = Math.Max(1000, span.Ticks * 100);
        var duration = new TimeSpec { Seconds = nanoseconds / 1_000_000_000, Nanoseconds = nanoseconds % 1_000_000_000 };
        NanoSleep(ref duration, IntPtr.Zero);
    }
}
