using System.Net;

namespace TunnelActors.Configuration;

/// <summary>The networks a side takes connections or datagrams from (<c>tcp.allow</c>, <c>udp.allow</c>); empty = any.</summary>
public sealed class AllowList(IReadOnlyList<IPNetwork> networks)
{
    public bool IsEmpty => networks.Count == 0;

    public IReadOnlyList<IPNetwork> Networks => networks;

    public bool Allows(EndPoint source)
    {
        if (networks.Count == 0) return true;
        if (source is not IPEndPoint ip) return false;
        var address = ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address;
        foreach (var network in networks)
            if (network.Contains(address)) return true;
        return false;
    }
}
