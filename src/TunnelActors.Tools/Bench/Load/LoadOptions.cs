using System.Net;

namespace TunnelActors.Tools.Bench.Load;

/// <summary>What <see cref="LoadGenerator"/> sends, to where, and for how long.</summary>
internal sealed record LoadOptions(IPEndPoint Target)
{
    public const int MinSize = DatagramHeader.Size;
    public const int MaxSize = 65507;

    public int Peers { get; init; } = 1;
    public int Size { get; init; } = 64;

    /// <summary>Open loop: datagrams per second over all peers. Null: closed loop, <see cref="Window"/> per peer.</summary>
    public double? Rate { get; init; }

    public int Window { get; init; } = 32;
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(5);
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Closed loop: a datagram unanswered this long stops holding its window slot.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>After the measurement, how long replies are still awaited (ends early once all are back).</summary>
    public TimeSpan Drain { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Local address of the peers; with a port P, peer i binds P + i. Null: any address, ephemeral ports.</summary>
    public IPEndPoint? Bind { get; init; }

    public bool ReuseAddress { get; init; }

    public bool ClosedLoop => Rate is null;

    public IPEndPoint PeerEndPoint(int peer)
    {
        if (Bind is null)
            return new IPEndPoint(Target.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        return new IPEndPoint(Bind.Address, Bind.Port == 0 ? 0 : Bind.Port + peer);
    }
}
