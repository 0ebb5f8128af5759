using System.Buffers;
using BenchmarkDotNet.Attributes;
using TunnelActors.Framing;

namespace TunnelActors.Benchmarks.Framing;

/// <summary>
/// Each invocation handles <see cref="Frames"/> frames and says so through OperationsPerInvoke, so Mean is
/// ns per frame and Allocated is bytes per frame. Decoding goes through <see cref="FrameDecoder"/>, as a
/// tunnel connection decodes what TCP delivers.
/// </summary>
[MemoryDiagnoser]
public class LengthPrefixedCodecBenchmarks
{
    private const int Frames = 128;

    private readonly FrameDecoder _decoder = new();
    private readonly Total _total = new();
    private byte[] _contiguous = [];
    private byte[][] _split = [];
    private byte[] _payload = [];
    private ArrayBufferWriter<byte> _writer = new();

    [Params(64, 1200, 8192)]
    public int PayloadSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _contiguous = FrameStreams.Encode(PayloadSize, Frames);
        _split = FrameStreams.SplitEveryFrame(_contiguous, PayloadSize);
        _payload = _contiguous.AsSpan(LengthPrefixedCodec.HeaderLength, PayloadSize).ToArray();
        // Sized once so that Write never makes the writer grow.
        _writer = new ArrayBufferWriter<byte>(_contiguous.Length);

        const string wrong = "the benchmark data does not decode to the frames it was made of";
        if (DecodeContiguous() != (long)Frames * PayloadSize || DecodeSplit() != (long)Frames * PayloadSize)
            throw new InvalidOperationException(wrong);
        if (Encode() != _contiguous.Length) throw new InvalidOperationException(wrong);
    }

    [Benchmark(OperationsPerInvoke = Frames)]
    public long DecodeContiguous()
    {
        _total.Bytes = 0;
        _decoder.Decode(_contiguous, _total);
        return _total.Bytes;
    }

    [Benchmark(OperationsPerInvoke = Frames)]
    public long DecodeSplit()
    {
        _total.Bytes = 0;
        foreach (var segment in _split) _decoder.Decode(segment, _total);
        return _total.Bytes;
    }

    [Benchmark(OperationsPerInvoke = Frames)]
    public int Encode()
    {
        _writer.ResetWrittenCount();
        for (var i = 0; i < Frames; i++) LengthPrefixedCodec.Instance.Write(_payload, _writer);
        return _writer.WrittenCount;
    }

    private sealed class Total : IDatagramReceiver
    {
        public long Bytes;

        public void Receive(ReadOnlySpan<byte> datagram) => Bytes += datagram.Length;
    }
}
