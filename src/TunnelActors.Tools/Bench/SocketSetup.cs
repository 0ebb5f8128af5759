using System.Net;
using System.Net.Sockets;

namespace TunnelActors.Tools.Bench;

/// <summary>The UDP sockets of the bench commands: large kernel buffers, optionally a shared port.</summary>
internal static class SocketSetup
{
    public const int DefaultBufferBytes = 4 << 20;

    // SO_SNDBUFFORCE / SO_RCVBUFFORCE (Linux, needs CAP_NET_ADMIN) exceed net.core.[rw]mem_max.
    private const int SolSocket = 1, SendBufferForce = 32, ReceiveBufferForce = 33;

    /// <param name="reuseAddress">
    /// SO_REUSEADDR, so that the socket can share its port with one bound to the wildcard address that also
    /// sets it (Debian's udptunnel binds its UDP port on every address).
    /// </param>
    public static Socket Udp(IPEndPoint bind, int bufferBytes = DefaultBufferBytes, bool reuseAddress = false)
    {
        var socket = new Socket(bind.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            Enlarge(socket, bufferBytes);
            if (reuseAddress) socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(bind);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Kernel buffers of at least <paramref name="bytes"/> where allowed, else as large as the system lets.</summary>
    private static void Enlarge(Socket socket, int bytes)
    {
        if (OperatingSystem.IsLinux() && TryForce(socket, ReceiveBufferForce, bytes) && TryForce(socket, SendBufferForce, bytes)) return;
        socket.ReceiveBufferSize = bytes;
        socket.SendBufferSize = bytes;
    }

    private static bool TryForce(Socket socket, int option, int bytes)
    {
        try
        {
            socket.SetRawSocketOption(SolSocket, option, BitConverter.GetBytes(bytes));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
