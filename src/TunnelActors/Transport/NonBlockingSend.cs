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

    /// <summary>
    /// Sends <paramref name="lengths"/>.Length datagrams, laid end to end in <paramref name="data"/>, to one address: on
    /// 64-bit Linux with <c>sendmmsg</c> (one system call for the lot while the kernel takes them all), elsewhere one
    /// <c>sendto</c> each. <paramref name="errors"/>[i] is <c>null</c> for a datagram sent, or why it was refused.
    /// </summary>
    public static void SendMany(Socket socket, ReadOnlySpan<byte> data, ReadOnlySpan<int> lengths, SocketAddress address, Span<SendError?> errors)
    {
        if (OperatingSystem.IsLinux() && IntPtr.Size == 8)
        {
            LinuxSendMany(socket, data, lengths, address, errors);
            return;
        }
        var offset = 0;
        for (var i = 0; i < lengths.Length; i++)
        {
            errors[i] = SendTo(socket, data.Slice(offset, lengths[i]), address, out var error) ? null : error;
            offset += lengths[i];
        }
    }

    private static void LinuxSendMany(Socket socket, ReadOnlySpan<byte> data, ReadOnlySpan<int> lengths, SocketAddress address, Span<SendError?> errors)
    {
        var count = lengths.Length;
        var handle = socket.SafeHandle;
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var fd = (int)handle.DangerousGetHandle();
            var vectors = stackalloc IoVector[count];
            var headers = stackalloc MessageHeader[count];
            fixed (byte* start = data)
            fixed (byte* to = address.Buffer.Span)
            {
                var offset = 0;
                for (var i = 0; i < count; i++)
                {
                    vectors[i] = new IoVector { Base = start + offset, Length = (nuint)lengths[i] };
                    headers[i] = new MessageHeader { Name = to, NameLength = (uint)address.Size, Vectors = &vectors[i], VectorCount = 1 };
                    offset += lengths[i];
                }
                var next = 0;
                while (next < count)
                {
                    var sent = sendmmsg(fd, headers + next, (uint)(count - next), DontWait);
                    if (sent > 0)
                    {
                        for (var i = next; i < next + sent; i++) errors[i] = null;
                        next += sent;
                        continue;
                    }
                    // The kernel stops at the first datagram it refuses and says why on the next call: that one is dropped.
                    errors[next++] = SendError.FromErrno(Marshal.GetLastPInvokeError());
                }
            }
        }
        catch (ObjectDisposedException)
        {
            for (var i = 0; i < count; i++) errors[i] = SendError.SocketClosed;
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sendmmsg(int socket, MessageHeader* messages, uint count, int flags);

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
