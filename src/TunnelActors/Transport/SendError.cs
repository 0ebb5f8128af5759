using System.Net.Sockets;
using System.Runtime.InteropServices;
using TunnelActors.Observability;

namespace TunnelActors.Transport;

/// <summary>
/// Why the kernel refused a datagram: the drop reason it is counted under, and the error as the system gave it
/// (<c>errno</c> on Linux, a <see cref="SocketError"/> elsewhere, as <see cref="NonBlockingSend"/> gets it).
/// </summary>
public readonly record struct SendError(DropReason Reason, int Code)
{
    /// <summary>The Linux errors named in the log (asm-generic/errno-base.h, errno.h); others show by number.</summary>
    private enum Errno
    {
        EPERM = 1,
        EBADF = 9,
        EAGAIN = 11,
        EACCES = 13,
        EMSGSIZE = 90,
        EADDRNOTAVAIL = 99,
        ENETDOWN = 100,
        ENETUNREACH = 101,
        ENOBUFS = 105,
        EHOSTDOWN = 112,
        EHOSTUNREACH = 113,
    }

    /// <summary>The socket was closed under the send (its actor died, it is bound again): what a closed descriptor gives.</summary>
    internal static SendError SocketClosed =>
        OperatingSystem.IsLinux() ? FromErrno((int)Errno.EBADF) : FromSocketError(SocketError.NotSocket);

    internal static SendError FromErrno(int errno) => new((Errno)errno switch
    {
        Errno.EAGAIN or Errno.ENOBUFS => DropReason.UdpSendFailed,
        Errno.EPERM or Errno.EACCES => DropReason.UdpSendForbidden,
        Errno.ENETUNREACH or Errno.EHOSTUNREACH or Errno.EHOSTDOWN or Errno.ENETDOWN or Errno.EADDRNOTAVAIL => DropReason.UdpSendUnreachable,
        Errno.EMSGSIZE => DropReason.UdpSendTooLarge,
        _ => DropReason.UdpSendOther,
    }, errno);

    internal static SendError FromSocketError(SocketError error) => new(error switch
    {
        SocketError.WouldBlock or SocketError.NoBufferSpaceAvailable => DropReason.UdpSendFailed,
        SocketError.AccessDenied => DropReason.UdpSendForbidden,
        SocketError.NetworkUnreachable or SocketError.HostUnreachable or SocketError.HostDown or SocketError.NetworkDown
            or SocketError.AddressNotAvailable => DropReason.UdpSendUnreachable,
        SocketError.MessageSize => DropReason.UdpSendTooLarge,
        _ => DropReason.UdpSendOther,
    }, (int)error);

    /// <summary>The error for a log line: <c>EPERM (errno 1, Operation not permitted)</c>.</summary>
    public string Description
    {
        get
        {
            if (!OperatingSystem.IsLinux()) return $"{(SocketError)Code} ({Code})";
            var message = Marshal.GetPInvokeErrorMessage(Code);
            return Enum.IsDefined((Errno)Code) ? $"{(Errno)Code} (errno {Code}, {message})" : $"errno {Code} ({message})";
        }
    }
}
