using Akka.IO;

namespace TunnelActors.Sessions;

/// <summary>Datagrams waiting for a link, bounded in bytes (each counts at least one byte).</summary>
internal sealed class DatagramQueue(int limitBytes)
{
    private readonly Queue<ByteString> _items = new();
    private int _bytes;

    public bool TryEnqueue(ByteString datagram)
    {
        var cost = Math.Max(1, datagram.Count);
        if (_bytes + cost > limitBytes) return false;
        _items.Enqueue(datagram);
        _bytes += cost;
        return true;
    }

    public IEnumerable<ByteString> Drain()
    {
        while (_items.TryDequeue(out var datagram))
        {
            _bytes -= Math.Max(1, datagram.Count);
            yield return datagram;
        }
    }
}
