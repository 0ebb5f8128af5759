using System.Diagnostics;
using System.Net;

namespace TunnelActors.Endpoints;

/// <summary>
/// What one listening endpoint admits: at most <c>perSource</c> sessions or connections per source address,
/// and new ones at most <c>perSecond</c> per second (a token bucket holding one second's worth), so that one
/// address with thousands of phantom ports, or a connection flood, cannot starve everyone else.
/// </summary>
internal sealed class AdmissionLimits(int perSource, int perSecond)
{
    private readonly Dictionary<IPAddress, int> _bySource = new();
    private double _tokens = perSecond;
    private long _refilled = Stopwatch.GetTimestamp();

    public enum Verdict { Admitted, SourceFull, TooFast }

    /// <summary>Admits one more from <paramref name="source"/>; every admission is matched by one <see cref="Release"/>.</summary>
    public Verdict TryAdmit(EndPoint source)
    {
        var address = Address(source);
        _bySource.TryGetValue(address, out var count);
        if (count >= perSource) return Verdict.SourceFull;
        Refill();
        if (_tokens < 1) return Verdict.TooFast;
        _tokens--;
        _bySource[address] = count + 1;
        return Verdict.Admitted;
    }

    public void Release(EndPoint source)
    {
        var address = Address(source);
        if (!_bySource.TryGetValue(address, out var count)) return;
        if (count <= 1) _bySource.Remove(address);
        else _bySource[address] = count - 1;
    }

    private void Refill()
    {
        var now = Stopwatch.GetTimestamp();
        _tokens = Math.Min(perSecond, _tokens + perSecond * (double)(now - _refilled) / Stopwatch.Frequency);
        _refilled = now;
    }

    private static IPAddress Address(EndPoint source) => source is IPEndPoint ip
        ? ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address
        : IPAddress.None;
}
