using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace TunnelActors.Configuration;

/// <summary>
/// What .NET has no managed API for, on Linux: opening a file without blocking (a FIFO would wait for a writer),
/// its type and owner from the open descriptor, and the user and group this process runs as. <c>statx</c>
/// rather than <c>fstat</c>: its structure is the same on every architecture.
/// </summary>
internal static unsafe partial class UnixFile
{
    // O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, as the generic Linux ABI (x86-64, arm64, riscv64) numbers them.
    private const int ReadOnlyNonBlocking = 0x800 | 0x100 | 0x80000;
    private const int EmptyPath = 0x1000; // AT_EMPTY_PATH: the descriptor itself
    private const uint TypeModeOwnerGroupSize = 0x1 | 0x2 | 0x8 | 0x10 | 0x200; // STATX_TYPE | STATX_MODE | STATX_UID | STATX_GID | STATX_SIZE
    private const int RegularFile = 0x8000; // S_IFREG
    private const int TypeMask = 0xF000;

    public readonly record struct Status(bool IsRegularFile, uint Owner, uint Group, long Size);

    public static uint EffectiveUser => geteuid();
    public static uint EffectiveGroup => getegid();

    /// <exception cref="IOException">With the system's reason.</exception>
    public static SafeFileHandle OpenForReading(string path)
    {
        var fd = open(path, ReadOnlyNonBlocking);
        if (fd < 0) throw LastError();
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <exception cref="IOException">With the system's reason.</exception>
    public static Status StatusOf(SafeFileHandle file)
    {
        StatX status;
        var added = false;
        try
        {
            file.DangerousAddRef(ref added);
            if (statx((int)file.DangerousGetHandle(), "", EmptyPath, TypeModeOwnerGroupSize, &status) < 0) throw LastError();
        }
        finally
        {
            if (added) file.DangerousRelease();
        }
        if ((status.Mask & TypeModeOwnerGroupSize) != TypeModeOwnerGroupSize) throw new IOException("the file system does not report its owner");
        return new Status((status.Mode & TypeMask) == RegularFile, status.Owner, status.Group, (long)status.Size);
    }

    /// <summary>The start of <c>struct statx</c> (linux/stat.h), 256 bytes in all.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct StatX
    {
        public uint Mask;
        public uint BlockSize;
        public ulong Attributes;
        public uint Links;
        public uint Owner;
        public uint Group;
        public ushort Mode;
        public ushort Spare;
        public ulong Inode;
        public ulong Size;
        public fixed byte Rest[256 - 48];
    }

    private static IOException LastError() => new(Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()));

    // open(2) is variadic, but its mode argument is read only with O_CREAT or O_TMPFILE.
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx(int directory, string path, int flags, uint mask, StatX* status);

    [LibraryImport("libc")]
    private static partial uint geteuid();

    [LibraryImport("libc")]
    private static partial uint getegid();
}
