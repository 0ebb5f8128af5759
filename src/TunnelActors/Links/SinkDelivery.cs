using Akka.Event;
using TunnelActors.Framing;
using TunnelActors.Observability;
using TunnelActors.Transport;

namespace TunnelActors.Links;

/// <summary>
/// TCP → UDP: the datagrams decoded from one read of the connection go out together on its binding's sink
/// (<see cref="Flush"/>, one <c>sendmmsg</c> on Linux), each counted by what became of it: sent, too large for UDP,
/// or refused by the kernel (why, logged once a minute per cause).
/// </summary>
internal sealed class SinkDelivery(Link.Binding binding, ILoggingAdapter log, SendErrorLog errors) : IDatagramReceiver
{
    public void Receive(ReadOnlySpan<byte> datagram)
    {
        if (datagram.Length > binding.Sink.MaxDatagram)
        {
            binding.Counters.CountDrop(DropReason.Oversize);
            return;
        }
        var batch = SendBatch.ForThisThread;
        if (!ReferenceEquals(batch.Owner, this)) batch.Owner?.Flush();
        if (!batch.Fits(datagram.Length)) Flush();
        batch.Owner = this;
        batch.Add(datagram);
    }

    /// <summary>Sends what <see cref="Receive"/> gathered; the connection calls it once it has decoded a read.</summary>
    public void Flush()
    {
        var batch = SendBatch.ForThisThread;
        if (!ReferenceEquals(batch.Owner, this)) return;
        batch.Owner = null;
        if (batch.Count == 0) return;
        var sink = binding.Sink;
        var counters = binding.Counters;
        var results = batch.Send(sink);
        var lengths = batch.Lengths;
        for (var i = 0; i < results.Length; i++)
        {
            if (results[i] is { } error)
            {
                counters.CountDrop(error.Reason);
                errors.Log(log, error, sink);
                continue;
            }
            counters.CountToUdp(lengths[i]);
            binding.Activity.SawFromTunnel();
        }
        batch.Clear();
    }

    /// <summary>
    /// The datagrams of one read, copied end to end until they are sent: one per thread (a connection gathers and
    /// sends within one message, on one thread), so a thousand connections do not hold a thousand of them.
    /// </summary>
    private sealed class SendBatch
    {
        private const int MaxDatagrams = 64;

        [ThreadStatic] private static SendBatch? _forThisThread;

        private readonly byte[] _data = new byte[2 * 65536];
        private readonly int[] _lengths = new int[MaxDatagrams];
        private readonly SendError?[] _results = new SendError?[MaxDatagrams];
        private int _used;

        public static SendBatch ForThisThread => _forThisThread ??= new SendBatch();

        public SinkDelivery? Owner { get; set; }

        public int Count { get; private set; }

        public ReadOnlySpan<int> Lengths => _lengths.AsSpan(0, Count);

        public bool Fits(int length) => Count < MaxDatagrams && _used + length <= _data.Length;

        public void Add(ReadOnlySpan<byte> datagram)
        {
            datagram.CopyTo(_data.AsSpan(_used));
            _used += datagram.Length;
            _lengths[Count++] = datagram.Length;
        }

        public ReadOnlySpan<SendError?> Send(UdpSink sink)
        {
            var results = _results.AsSpan(0, Count);
            sink.SendMany(_data.AsSpan(0, _used), Lengths, results);
            return results;
        }

        public void Clear()
        {
            _used = 0;
            Count = 0;
        }
    }
}

/// <summary>Decoded datagrams with nowhere to go: counted under a reason.</summary>
internal sealed class Dropping(Func<TrafficCounters> counters, DropReason reason) : IDatagramReceiver
{
    public void Receive(ReadOnlySpan<byte> datagram) => counters().CountDrop(reason);
}
