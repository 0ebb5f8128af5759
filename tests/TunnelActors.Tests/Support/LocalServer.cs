using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace TunnelActors.Tests.Support;

/// <summary>A server program a test starts on loopback (nginx, squid): a port for it, waiting until it listens, stopping it.</summary>
public static class LocalServer
{
    /// <summary>A loopback port free now (a program that takes its port from its configuration cannot be given port 0).</summary>
    public static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>Whether <paramref name="process"/> accepts connections on <paramref name="port"/> within 30 s; false once it has exited.</summary>
    public static async Task<bool> ListeningAsync(int port, Process process)
    {
        for (var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30); DateTime.UtcNow < deadline && !process.HasExited; await Task.Delay(50))
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return true;
            }
            catch (SocketException)
            {
            }
        }
        return false;
    }

    /// <summary>Stops the program by its PID and removes its directory.</summary>
    public static void Stop(Process process, string directory)
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        process.Dispose();
        Directory.Delete(directory, recursive: true);
    }
}
