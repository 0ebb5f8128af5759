using System.Buffers.Binary;

namespace TunnelActors.Auth;

/// <summary>
/// The name of one flow (a phantom peer of the UDP-listen side), sent at the start of every keyed connection
/// that carries it. The forward side keeps a flow's socket for <c>session.reconnect-grace</c> after its
/// connection ends and gives it to the connection that names it next, so the target sees one source throughout.
/// </summary>
public readonly record struct FlowId(UInt128 Value)
{
    public const int Length = 16;

    public static FlowId Read(ReadOnlySpan<byte> bytes) => new(BinaryPrimitives.ReadUInt128BigEndian(bytes));

    public byte[] ToBytes()
    {
        var bytes = new byte[Length];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, Value);
        return bytes;
    }

    /// <summary>The first eight hexadecimal digits: enough to tell flows apart in a log.</summary>
    public override string ToString() => Value.ToString("x32")[..8];
}
