using System.Net;
using System.Net.Sockets;
using Xunit;
using TunnelActors.Tools.Bench.Load;

namespace TunnelActors.Tests.Bench;

/// <summary>A relay that returns replies to the wrong phantom port is caught.</summary>
public sealed class MisdeliveryTests
{
    public MisdeliveryTests() => ThreadPoolHeadroom.Ensure();

    [Fact]
    public async Task Replies_answered_to_another_peers_socket_count_as_misdelivered()
    {
        using var crossing = new CrossingEcho();
        var report = await LoadGenerator.RunAsync(new LoadOptions(crossing.LocalEndPoint)
        {
            Peers = 3, Rate = 3000, Duration = TimeSpan.FromSeconds(0.3), Warmup = TimeSpan.Zero,
        });
        var misdirected = await crossing.StopAsync();

        Assert.True(misdirected > 100, $"{misdirected} replies misdirected");
        Assert.Equal(misdirected, report.Misdelivered);
        Assert.Equal(report.Sent, report.Received);
        Assert.Equal(0, report.Lost);
    }

    /// <summary>Sends every reply to the first source it ever heard from, whoever sent the datagram.</summary>
    private sealed class CrossingEcho : IDisposable
    {
        private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task<long> _loop;

        public CrossingEcho()
        {
            _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
            _loop = Task.Run(LoopAsync); // on the thread pool, not on xunit's few test threads
        }

        public IPEndPoint LocalEndPoint { get; }

        public async Task<long> StopAsync()
        {
            await _stop.CancelAsync();
            return await _loop;
        }

        private async Task<long> LoopAsync()
        {
            var buffer = new byte[65536];
            EndPoint? first = null;
            long misdirected = 0;
            while (true)
            {
                SocketReceiveFromResult received;
                try
                {
                    received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return misdirected;
                }
                first ??= received.RemoteEndPoint;
                if (!first.Equals(received.RemoteEndPoint)) misdirected++;
                await _socket.SendToAsync(buffer.AsMemory(0, received.ReceivedBytes), first);
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _socket.Dispose();
            _stop.Dispose();
        }
    }
}
