using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace TunnelActors.Observability;

/// <summary>
/// How peer addresses appear in logs. With <c>tunnel.log.redact-addresses</c>, each address is replaced by
/// a short hash keyed with a secret made at start: the same peer shows as the same name in every line of a
/// run, so its lines can still be followed, but the log does not say who it was. The port, which says
/// nothing about the person, is kept.
/// </summary>
public sealed class AddressDisplay(bool redact)
{
    // Made only when used: the cryptography library costs a side some 5 MB of memory.
    private readonly byte[]? _secret = redact ? RandomNumberGenerator.GetBytes(32) : null;

    /// <summary>Whether peer addresses are hidden (<c>tunnel.log.redact-addresses</c>).</summary>
    public bool Redacts => redact;

    public string Show(EndPoint endpoint)
    {
        if (endpoint is not IPEndPoint ip) return endpoint.ToString() ?? "";
        var address = ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address;
        if (!redact) return new IPEndPoint(address, ip.Port).ToString();
        return $"{Name(address)}:{ip.Port}";
    }

    public string Show(IPAddress address) => redact ? Name(address) : address.ToString();

    /// <summary>This side's own addresses, and those it was configured with: never redacted.</summary>
    public static string Plain(EndPoint endpoint) =>
        endpoint is IPEndPoint { Address.IsIPv4MappedToIPv6: true } ip ? new IPEndPoint(ip.Address.MapToIPv4(), ip.Port).ToString() : endpoint.ToString() ?? "";

    private string Name(IPAddress address) =>
        "anon-" + Convert.ToHexStringLower(HMACSHA256.HashData(_secret!, Encoding.ASCII.GetBytes(address.ToString())).AsSpan(0, 4));
}
