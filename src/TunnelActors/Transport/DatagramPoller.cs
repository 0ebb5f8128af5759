using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Akka.Actor;
using Akka.IO;
using TunnelActors.Observability;

namespace TunnelActors.Transport;

/// <summary>
/// The receiving half of the side's own UDP sockets on 64-bit Linux: one thread that waits in <c>epoll_wait</c> on
/// the sockets registered with it and, when one is readable, takes up to <c>tunnel.udp.receive-batch</c> datagrams with one
/// <c>recvmmsg</c> and tells each to the socket's handler as Akka.IO's <see cref="Udp.Received"/>. Akka.IO makes a
/// system call per datagram (and one more that finds the socket empty); under load this makes one per batch. The
/// thread also runs the actors the datagrams wake (the inline executor runs work on the thread that hands it), so a
/// datagram goes from the socket to the TCP write without a thread switch.
/// <para>
/// Readiness is level-triggered and asked for reading only: a socket with datagrams left (a batch was full, four
/// times running) is reported again, after the other sockets had their turn. The receive buffers are one block of
/// <c>batch</c> × 64 KiB of address space, of which only the pages datagrams land on become resident.
/// </para>
/// </summary>
internal sealed unsafe partial class DatagramPoller : IDisposable
{
    /// <summary>Whether this process can use it: Linux, 64-bit (the <c>mmsghdr</c> layout of <see cref="MessageHeader"/>).</summary>
    public static bool Supported => OperatingSystem.IsLinux() && IntPtr.Size == 8;

    private const int SlotSize = 65536;
    private const int AddressSize = 128;
    private const int RoundsPerTurn = 4;
    private const int MaxEvents = 64;
    private const ulong WakeToken = 0;

    private const int EpollIn = 0x001;
    private const int EpollCtlAdd = 1;
    private const int EpollCtlDel = 2;
    private const int DontWait = 0x40;
    private const int Truncated = 0x20;
    private const int Interrupted = 4;
    private const int EventFdNonBlocking = 0x800;
    private const int CloseOnExec = 0x80000;
    private const ushort FamilyInet = 2;
    private const ushort FamilyInet6 = 10;

    // struct epoll_event is packed on x86-64 (12 bytes) and naturally aligned elsewhere (16).
    private static readonly int EventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;

    private readonly ConcurrentDictionary<ulong, Registration> _registrations = new();
    private readonly int _batch;
    private readonly int _epoll;
    private readonly int _wake;
    private readonly Action<string> _fault;
    private readonly ReceiveCounters.Count _received;
    private readonly byte* _slots;
    private readonly byte* _addresses;
    private readonly IoVector* _vectors;
    private readonly MessageHeader* _headers;
    // Held while the epoll and event descriptors are used from another thread: once the receiving thread has closed
    // them (stopped, or failed) their numbers may already name another file.
    private readonly Lock _descriptors = new();
    private bool _closed;
    private long _nextToken;
    private volatile bool _stopping;

    /// <param name="batch">Datagrams one <c>recvmmsg</c> takes at most.</param>
    /// <param name="fault">Told of a system call that failed in a way it cannot go on from (the thread stops).</param>
    /// <param name="name">The thread's name.</param>
    /// <param name="received">Counts the datagrams this thread takes.</param>
    public DatagramPoller(int batch, string name, ReceiveCounters.Count received, Action<string> fault)
    {
        if (!Supported) throw new PlatformNotSupportedException("recvmmsg needs 64-bit Linux");
        _batch = batch;
        _fault = fault;
        _received = received;
        _epoll = epoll_create1(CloseOnExec);
        if (_epoll < 0) throw new SocketException(Marshal.GetLastPInvokeError());
        _wake = eventfd(0, EventFdNonBlocking | CloseOnExec);
        if (_wake < 0)
        {
            var error = Marshal.GetLastPInvokeError();
            close(_epoll);
            throw new SocketException(error);
        }
        Control(EpollCtlAdd, _wake, WakeToken);
        _slots = (byte*)NativeMemory.Alloc((nuint)batch * SlotSize);
        _addresses = (byte*)NativeMemory.Alloc((nuint)batch * AddressSize);
        _vectors = (IoVector*)NativeMemory.AllocZeroed((nuint)batch, (nuint)sizeof(IoVector));
        _headers = (MessageHeader*)NativeMemory.AllocZeroed((nuint)batch, (nuint)sizeof(MessageHeader));
        for (var i = 0; i < batch; i++)
        {
            _vectors[i] = new IoVector { Base = _slots + (long)i * SlotSize, Length = SlotSize };
            _headers[i].Vectors = &_vectors[i];
            _headers[i].VectorCount = 1;
            _headers[i].Name = _addresses + i * AddressSize;
            _headers[i].NameLength = AddressSize;
        }
        new Thread(Run) { IsBackground = true, Name = name }.Start();
    }

    /// <summary>Datagrams that arrive on <paramref name="socket"/> go to <paramref name="handler"/>, sent by <paramref name="socketActor"/>, until the registration is disposed.</summary>
    public Registration Register(Socket socket, IActorRef handler, IActorRef socketActor)
    {
        var token = (ulong)Interlocked.Increment(ref _nextToken);
        var registration = new Registration(this, token, socket, handler, socketActor);
        _registrations[token] = registration;
        var added = false;
        try
        {
            socket.SafeHandle.DangerousAddRef(ref added);
            Control(EpollCtlAdd, (int)socket.SafeHandle.DangerousGetHandle(), token);
        }
        catch
        {
            _registrations.TryRemove(token, out _);
            throw;
        }
        finally
        {
            if (added) socket.SafeHandle.DangerousRelease();
        }
        return registration;
    }

    /// <summary>Stops the thread; it frees what it holds on its way out.</summary>
    public void Dispose()
    {
        _stopping = true;
        lock (_descriptors)
        {
            if (_closed) return;
            ulong one = 1;
            write(_wake, &one, sizeof(ulong));
        }
    }

    /// <exception cref="SocketException">epoll refused it, or the receiving thread has stopped.</exception>
    private void Control(int operation, int fd, ulong token)
    {
        var entry = stackalloc byte[16];
        *(uint*)entry = EpollIn;
        *(ulong*)(entry + (EventSize == 12 ? 4 : 8)) = token;
        lock (_descriptors)
        {
            if (_closed) throw new SocketException((int)SocketError.Shutdown);
            if (epoll_ctl(_epoll, operation, fd, entry) < 0) throw new SocketException(Marshal.GetLastPInvokeError());
        }
    }

    private void Run()
    {
        var events = stackalloc byte[MaxEvents * 16];
        var dataOffset = EventSize == 12 ? 4 : 8;
        try
        {
            while (!_stopping)
            {
                var ready = epoll_wait(_epoll, events, MaxEvents, -1);
                if (ready < 0)
                {
                    var error = Marshal.GetLastPInvokeError();
                    if (error == Interrupted) continue;
                    _fault($"epoll_wait failed: {new SocketException(error).Message}");
                    return;
                }
                // Datagrams from every ready socket are queued before any actor runs: see InlineExecutor.Defer.
                InlineExecutor.Defer();
                try
                {
                    for (var i = 0; i < ready && !_stopping; i++)
                    {
                        var token = *(ulong*)(events + i * EventSize + dataOffset);
                        if (token != WakeToken && _registrations.TryGetValue(token, out var registration)) Drain(registration);
                    }
                }
                finally
                {
                    InlineExecutor.RunDeferred();
                }
            }
        }
        catch (Exception e)
        {
            // An exception on a thread of its own would end the process: the manager is told and starts over.
            _fault($"the UDP receive thread failed: {e.Message}");
        }
        finally
        {
            lock (_descriptors)
            {
                _closed = true;
                close(_wake);
                close(_epoll);
            }
            NativeMemory.Free(_slots);
            NativeMemory.Free(_addresses);
            NativeMemory.Free(_vectors);
            NativeMemory.Free(_headers);
        }
    }

    private void Drain(Registration registration)
    {
        var handle = registration.Socket.SafeHandle;
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var fd = (int)handle.DangerousGetHandle();
            for (var round = 0; round < RoundsPerTurn; round++)
            {
                var received = recvmmsg(fd, _headers, (uint)_batch, DontWait, null);
                if (received <= 0) return;
                _received.Add(received);
                Deliver(registration, received);
                if (received < _batch) return;
                // A full batch: let the actors take it before reading more.
                InlineExecutor.RunDeferred();
                InlineExecutor.Defer();
            }
        }
        catch (ObjectDisposedException)
        {
            // Closed by its actor since epoll reported it: nothing left to read.
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    private void Deliver(Registration registration, int received)
    {
        for (var i = 0; i < received; i++)
        {
            ref var header = ref _headers[i];
            // A datagram longer than a slot (64 KiB) cannot exist on UDP; should one, it is not passed on cut.
            if ((header.Flags & Truncated) != 0) continue;
            var sender = registration.Sender(header.Name, (int)header.NameLength);
            if (sender is null) continue;
            var data = ByteString.CopyFrom(new Span<byte>(_vectors[i].Base, (int)header.Length));
            registration.Handler.Tell(new Udp.Received(data, sender), registration.SocketActor);
        }
        // recvmmsg wrote the address lengths and flags of these headers only: ready them for the next call.
        for (var i = 0; i < received; i++)
        {
            _headers[i].NameLength = AddressSize;
            _headers[i].Flags = 0;
        }
    }

    /// <summary>One socket's place in the poller; disposing it stops its datagrams (call before closing the socket).</summary>
    public sealed class Registration : IDisposable
    {
        private readonly DatagramPoller _poller;
        private readonly ulong _token;
        private readonly byte[] _lastAddress = new byte[AddressSize];
        private int _lastAddressLength;
        private IPEndPoint? _lastSender;

        internal Registration(DatagramPoller poller, ulong token, Socket socket, IActorRef handler, IActorRef socketActor)
        {
            _poller = poller;
            _token = token;
            Socket = socket;
            Handler = handler;
            SocketActor = socketActor;
        }

        internal Socket Socket { get; }

        internal IActorRef Handler { get; }

        internal IActorRef SocketActor { get; }

        /// <summary>The source as an endpoint; the last one is kept, so a peer that sends on pays for its endpoint once.</summary>
        internal IPEndPoint? Sender(byte* address, int length)
        {
            var bytes = new ReadOnlySpan<byte>(address, Math.Min(length, AddressSize));
            if (_lastSender is not null && bytes.SequenceEqual(_lastAddress.AsSpan(0, _lastAddressLength))) return _lastSender;
            var sender = Parse(bytes);
            if (sender is null) return null;
            bytes.CopyTo(_lastAddress);
            _lastAddressLength = bytes.Length;
            return _lastSender = sender;
        }

        private static IPEndPoint? Parse(ReadOnlySpan<byte> address)
        {
            if (address.Length < 8) return null;
            var family = MemoryMarshal.Read<ushort>(address);
            var port = (address[2] << 8) | address[3];
            return family switch
            {
                FamilyInet => new IPEndPoint(new IPAddress(address.Slice(4, 4)), port),
                FamilyInet6 when address.Length >= 28 => new IPEndPoint(new IPAddress(address.Slice(8, 16), MemoryMarshal.Read<uint>(address[24..])), port),
                _ => null,
            };
        }

        public void Dispose()
        {
            if (!_poller._registrations.TryRemove(_token, out _)) return;
            var added = false;
            try
            {
                Socket.SafeHandle.DangerousAddRef(ref added);
                _poller.Control(EpollCtlDel, (int)Socket.SafeHandle.DangerousGetHandle(), _token);
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException)
            {
                // Already closed: closing took it out of the epoll set.
            }
            finally
            {
                if (added) Socket.SafeHandle.DangerousRelease();
            }
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_create1(int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_ctl(int epoll, int operation, int fd, byte* evt);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_wait(int epoll, byte* events, int maxEvents, int timeout);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int recvmmsg(int socket, MessageHeader* messages, uint count, int flags, void* timeout);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int eventfd(uint initial, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint write(int fd, void* buffer, nuint count);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}
