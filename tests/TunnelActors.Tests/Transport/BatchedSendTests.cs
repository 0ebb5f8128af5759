using System.Net;
using System.Net.Sockets;
using TunnelActors.Transport;
using Xunit;

namespace TunnelActors.Tests.Transport;

/// <summary>Datagrams sent together (<c>sendmmsg</c> on Linux) arrive whole, in order, each as itself.</summary>
public sealed class BatchedSendTests
{
    [Fact]
    public void Sixty_four_datagrams_of_every_size_including_empty_arrive_whole_and_in_order()
    {
        using var receiver = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        receiver.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        receiver.ReceiveBufferSize = 4 << 20;
        receiver.ReceiveTimeout = 10_000;
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sender.Bind(new IPEndPoint(IPAddress.Loopback, 0));

        var lengths = Enumerable.Range(0, 64).Select(i => i == 0 ? 0 : i * 997 % 9000 + 1).ToArray();
        var data = new byte[lengths.Sum()];
        var offset = 0;
        for (var i = 0; i < lengths.Length; i++)
        {
            data.AsSpan(offset, lengths[i]).Fill((byte)i);
            offset += lengths[i];
        }
        var errors = new SendError?[lengths.Length];
        NonBlockingSend.SendMany(sender, data, lengths, receiver.LocalEndPoint!.Serialize(), errors);

        Assert.All(errors, e => Assert.Null(e));
        var buffer = new byte[65536];
        for (var i = 0; i < lengths.Length; i++)
        {
            var received = receiver.Receive(buffer);
            Assert.Equal(lengths[i], received);
            Assert.True(buffer.AsSpan(0, received).IndexOfAnyExcept((byte)i) < 0, $"datagram {i} is not all {i}");
        }
    }

    [Fact]
    public void A_datagram_the_kernel_refuses_is_reported_alone_and_the_rest_still_go()
    {
        using var receiver = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        receiver.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        receiver.ReceiveTimeout = 10_000;
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sender.Bind(new IPEndPoint(IPAddress.Loopback, 0));

        // The middle one is larger than UDP over IPv4 carries (65,507 B): EMSGSIZE for it alone.
        int[] lengths = [10, 65_508, 20];
        var data = new byte[lengths.Sum()];
        var errors = new SendError?[lengths.Length];
        NonBlockingSend.SendMany(sender, data, lengths, receiver.LocalEndPoint!.Serialize(), errors);

        Assert.Null(errors[0]);
        Assert.NotNull(errors[1]);
        Assert.Null(errors[2]);
        var buffer = new byte[65536];
        Assert.Equal(10, receiver.Receive(buffer));
        Assert.Equal(20, receiver.Receive(buffer));
    }
}
