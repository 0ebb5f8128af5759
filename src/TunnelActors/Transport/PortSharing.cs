using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace TunnelActors.Transport;

/// <summary>
/// UDP sockets bound to exactly one address:port in this network namespace, from the kernel's tables (Linux). With
/// <c>SO_REUSEPORT</c> another process of the same user can bind the UDP-listen side's port too and take a share of
/// its peers, where without it the bind would have failed: the side counts the sockets on its port to see that.
/// </summary>
public static class PortSharing
{
    /// <summary>How many UDP sockets are bound to <paramref name="local"/>; null where the tables cannot be read.</summary>
    public static int? SocketsOn(IPEndPoint local)
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            var count = 0;
            foreach (var (table, address) in Forms(local.Address))
            {
                if (!File.Exists(table)) continue;
                var wanted = $"{address}:{local.Port:X4}";
                count += File.ReadLines(table).Skip(1).Count(line =>
                    line.Split(' ', 3, StringSplitOptions.RemoveEmptyEntries)[1].Equals(wanted, StringComparison.OrdinalIgnoreCase));
            }
            return count;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>The address as each table writes it: 32-bit words in host order (little-endian), hexadecimal.</summary>
    private static IEnumerable<(string Table, string Address)> Forms(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            yield return ("/proc/net/udp", Words(address.GetAddressBytes()));
            yield return ("/proc/net/udp6", Words(address.MapToIPv6().GetAddressBytes()));
        }
        else yield return ("/proc/net/udp6", Words(address.GetAddressBytes()));
    }

    private static string Words(byte[] bytes) => string.Concat(bytes.Chunk(4).Select(word =>
        string.Concat(word.Reverse().Select(b => b.ToString("X2", CultureInfo.InvariantCulture)))));
}
