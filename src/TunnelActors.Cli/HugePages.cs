using System.Runtime.InteropServices;

namespace TunnelActors.Cli;

/// <summary>
/// Turns transparent huge pages off for this process (Linux <c>prctl(PR_SET_THP_DISABLE)</c>), whatever
/// <c>/sys/kernel/mm/transparent_hugepage/enabled</c> says. The side's memory design counts on pages becoming
/// resident only where they are written: each TCP connection's 128 KiB receive buffer (Akka.IO rents one per
/// connection, on the large object heap) touches one page until data lands in it, and the forward sockets'
/// receive buffers are as sparse. Where THP is <c>always</c> (Fedora, RHEL, Arch and many cloud images;
/// Debian and Ubuntu default to <c>madvise</c>), khugepaged fills every 2 MiB range with at least one written
/// page into a whole huge page: a thousand idle connections, or a flood of hostile ones, then held about
/// 100 MB instead of 36 MB, growing for a minute as khugepaged went by. The relay's heap is small, so huge
/// pages would save it nothing.
/// </summary>
internal static class HugePages
{
    private const int SetThpDisable = 41; // PR_SET_THP_DISABLE, linux/prctl.h

    [DllImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static extern int Prctl(int option, nuint value, nuint unused2, nuint unused3, nuint unused4);

    /// <summary>Best effort: a kernel without the option (before 3.15) or a sandbox that forbids prctl leaves THP as it was.</summary>
    public static void DisableForThisProcess()
    {
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            Prctl(SetThpDisable, 1, 0, 0, 0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
    }
}
