using System.Runtime.InteropServices;

namespace TunnelActors.Transport;

// struct iovec and struct mmsghdr (struct msghdr, padded to 56 bytes, then msg_len: 64) as the 64-bit Linux ABI
// lays them out, for sendmmsg and recvmmsg.
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct IoVector
{
    public byte* Base;
    public nuint Length;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct MessageHeader
{
    public byte* Name;
    public uint NameLength;
    public IoVector* Vectors;
    public nuint VectorCount;
    public void* Control;
    public nuint ControlLength;
    public int Flags;
    private int _endOfMessageHeader;
    public uint Length;
    private int _endOfEntry;
}
