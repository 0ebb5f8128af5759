using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace TunnelActors.Transport;

/// <summary>
/// <c>sendto</c> that reports a refused datagram as a result, with why (<see cref="SendError"/>). .NET's
/// <see cref="Socket.SendTo(ReadOnlySpan{byte}, SocketFlags, SocketAddress)"/> throws on would-block, and an
/// exception per datagram is what an overloaded relay can least afford; on Linux the call goes to libc with
/// <c>MSG_DONTWAIT</c> instead, and the reason is its <c>errno</c>.
/// </summary>
internal static unsafe partial class NonBlockingSend
{
    private const int DontWait = 0x40;

    public static bool SendTo(Socket socket, ReadOnlySpan<byte> datagram, SocketAddress address, out SendError error) =>
        OperatingSystem.IsLinux() ? LinuxSendTo(socket, datagram, address, out error) : ManagedSendTo(socket, datagram, address, out error);

    private static bool LinuxSendTo(Socket socket, ReadOnlySpan<byte> datagram, SocketAddress address, out SendError error)
    {
        error = default;
        var handle = socket.SafeHandle;
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var fd = (int)handle.DangerousGetHandle();
            fixed (byte* data = datagram)
            fixed (byte* to = address.Buffer.Span)
                if (sendto(fd, data, (nuint)datagram.Length, DontWait, to, address.Size) >= 0) return true;
            error = SendError.FromErrno(Marshal.GetLastPInvokeError());
            return false;
        }
        catch (ObjectDisposedException)
        {
            error = SendError.SocketClosed;
            return false;
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    private static bool ManagedSendTo(Socket socket, ReadOnlySpan<byte> datagram, SocketAddress address, out SendError error)
    {
        error = default;
        try
        {
            socket.SendTo(datagram, SocketFlags.None, address);
            return true;
        }
        catch (SocketException e)
        {
            error = SendError.FromSocketError(e.SocketErrorCode);
            return false;
        }
        catch (ObjectDisposedException)
        {
            error = SendError.SocketClosed;
            return false;
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint sendto(int socket, byte* buffer, nuint length, int flags, byte* address, int addressLength);
}
