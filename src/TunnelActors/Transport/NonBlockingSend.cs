using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace TunnelActors.Transport;

/// <summary>
/// <c>sendto</c> that reports a full socket buffer as a result. .NET's <see cref="Socket.SendTo(ReadOnlySpan{byte}, SocketFlags, SocketAddress)"/>
/// throws on would-block, and an exception per datagram is what an overloaded relay can least afford; on
/// Linux the call goes to libc with <c>MSG_DONTWAIT</c> instead.
/// </summary>
internal static unsafe partial class NonBlockingSend
{
    private const int DontWait = 0x40;

    public static bool SendTo(Socket socket, ReadOnlySpan<byte> datagram, SocketAddress address) =>
        OperatingSystem.IsLinux() ? LinuxSendTo(socket, datagram, address) : ManagedSendTo(socket, datagram, address);

    private static bool LinuxSendTo(Socket socket, ReadOnlySpan<byte> datagram, SocketAddress address)
    {
        var handle = socket.SafeHandle;
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var fd = (int)handle.DangerousGetHandle();
            fixed (byte* data = datagram)
            fixed (byte* to = address.Buffer.Span)
                return sendto(fd, data, (nuint)datagram.Length, DontWait, to, address.Size) >= 0;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    private static bool ManagedSendTo(Socket socket, ReadOnlySpan<byte> datagram, SocketAddress address)
    {
        try
        {
            socket.SendTo(datagram, SocketFlags.None, address);
            return true;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint sendto(int socket, byte* buffer, nuint length, int flags, byte* address, int addressLength);
}
