using System.Buffers;
using BenchmarkDotNet.Attributes;
using TunnelActors.Framing;

namespace TunnelActors.Benchmarks.Framing;

/// <summary>
/// Each invocation handles <see cref="Frames"/> frames and says so through OperationsPerInvoke, so Mean is
/// ns per frame and Allocated is bytes per frame.
/// </summary>
[MemoryDiagnoser]
public class LengthPrefixedCodecBenchmarks
{
    private const int Frames = 128;

    // Called through the interface, as FramingStage calls it.
    private readonly IFrameCodec _codec = LengthPrefixedCodec.Instance;
    private ReadOnlySequence<byte> _contiguous;
    private ReadOnlySequence<byte> _multiSegment;
    private byte[] _payload = [];
    private ArrayBufferWriter<byte> _writer = new();

    [Params(64, 1200, 8192)]
    public int PayloadSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var stream = FrameStreams.Encode(_codec, PayloadSize, Frames);
        _contiguous = new ReadOnlySequence<byte>(stream);
        _multiSegment = FrameStreams.SplitEveryFrame(stream, PayloadSize);
        _payload = stream.AsSpan(LengthPrefixedCodec.HeaderLength, PayloadSize).ToArray();
        // Sized once so that Write never makes the writer grow.
        _writer = new ArrayBufferWriter<byte>(stream.Length);

        const string wrong = "the benchmark data does not decode to the frames it was made of";
        if (DecodeContiguous() != (long)Frames * PayloadSize || DecodeMultiSegment() != (long)Frames * PayloadSize)
            throw new InvalidOperationException(wrong);
        if (Encode() != stream.Length) throw new InvalidOperationException(wrong);
    }

    [Benchmark(OperationsPerInvoke = Frames)]
    public long DecodeContiguous() => DecodeAll(_contiguous);

    [Benchmark(OperationsPerInvoke = Frames)]
    public long DecodeMultiSegment() => DecodeAll(_multiSegment);

    [Benchmark(OperationsPerInvoke = Frames)]
    public int Encode()
    {
        _writer.ResetWrittenCount();
        for (var i = 0; i < Frames; i++) _codec.Write(_payload, _writer);
        return _writer.WrittenCount;
    }

    private long DecodeAll(ReadOnlySequence<byte> buffer)
    {
        long total = 0;
        while (_codec.TryRead(ref buffer, out var payload)) total += payload.Length;
        return total;
    }
}
