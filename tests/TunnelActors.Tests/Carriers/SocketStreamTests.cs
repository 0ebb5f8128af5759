using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using TunnelActors.Carriers;
using TunnelActors.Tests.Support;
using Xunit;

namespace TunnelActors.Tests.Carriers;

/// <summary>
/// The socket under TLS, without actors, over a loopback connection: once reading ahead, a zero-byte read (what
/// SslStream waits with) takes what came out of the kernel in one receive and the reads after it get it, byte for byte;
/// before that, it leaves the data where it is, as .NET's own does.
/// </summary>
public sealed class SocketStreamTests : IAsyncLifetime
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(10));
    private Socket _left = null!;
    private Socket _right = null!;

    public async Task InitializeAsync() => (_left, _right) = await Connections.LoopbackPairAsync();

    public Task DisposeAsync()
    {
        _left.Dispose();
        _right.Dispose();
        _timeout.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_zero_byte_read_reading_ahead_takes_the_data_in_one_receive_and_the_reads_after_it_get_every_byte()
    {
        var stream = new SocketStream(_left) { ReadAhead = true };
        var sent = RandomNumberGenerator.GetBytes(3000);
        var waiting = stream.ReadAsync(Memory<byte>.Empty, _timeout.Token);
        Assert.False(waiting.IsCompleted);
        await _right.SendAsync(sent, SocketFlags.None);

        Assert.Equal(0, await waiting);
        Assert.Equal(0, _left.Available);
        // With data at hand, a zero-byte read says so at once.
        Assert.True(stream.ReadAsync(Memory<byte>.Empty).IsCompletedSuccessfully);
        var received = new byte[3000];
        for (var at = 0; at < received.Length;)
        {
            var read = stream.ReadAsync(received.AsMemory(at, Math.Min(1000, received.Length - at)), _timeout.Token);
            Assert.True(read.IsCompletedSuccessfully);
            at += await read;
        }
        Assert.Equal(sent, received);

        // Used up: the next read waits for the socket again.
        var next = stream.ReadAsync(new byte[10], _timeout.Token);
        Assert.False(next.IsCompleted);
        await _right.SendAsync(new byte[] { 7 }, SocketFlags.None);
        Assert.Equal(1, await next);
    }

    [Fact]
    public async Task Before_reading_ahead_a_zero_byte_read_leaves_the_data_in_the_kernel()
    {
        var stream = new SocketStream(_left);
        await _right.SendAsync(new byte[3000], SocketFlags.None);
        Assert.Equal(0, await stream.ReadAsync(Memory<byte>.Empty, _timeout.Token));
        Assert.Equal(3000, _left.Available);
    }

    [Fact]
    public async Task The_far_sides_end_seen_by_a_zero_byte_read_is_the_end_for_the_reads_after_it()
    {
        var stream = new SocketStream(_left) { ReadAhead = true };
        _right.Shutdown(SocketShutdown.Send);
        Assert.Equal(0, await stream.ReadAsync(Memory<byte>.Empty, _timeout.Token));
        Assert.Equal(0, await stream.ReadAsync(new byte[10], _timeout.Token));
    }

    [Fact]
    public async Task TLS_over_it_carries_records_of_every_size_both_ways()
    {
        using var pki = new TestPki();
        var (certFile, keyFile, _) = pki.Issue();
        using var pem = X509Certificate2.CreateFromPemFile(certFile, keyFile);
        using var certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        var serverRaw = new SocketStream(_left);
        await using var server = new SslStream(serverRaw);
        await using var client = new SslStream(new NetworkStream(_right), false, (_, _, _, _) => true);
        await Task.WhenAll(
            server.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }, _timeout.Token),
            client.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" }, _timeout.Token));
        serverRaw.ReadAhead = true;

        // 1 B to several records in one write, a record split over the read-ahead buffer's end among them.
        var sizes = new[] { 1, 1200, 16384, 17000, 40000, 5, 70000 };
        var sent = sizes.Select(size => RandomNumberGenerator.GetBytes(size)).ToArray();
        var writing = Task.Run(async () =>
        {
            foreach (var message in sent) await client.WriteAsync(message, _timeout.Token);
        });
        var expected = sent.SelectMany(m => m).ToArray();
        var received = new byte[expected.Length];
        for (var at = 0; at < received.Length;)
        {
            var count = await server.ReadAsync(received.AsMemory(at), _timeout.Token);
            Assert.NotEqual(0, count);
            at += count;
        }
        await writing;
        Assert.Equal(expected, received);

        await server.WriteAsync(sent[3], _timeout.Token);
        var back = new byte[sent[3].Length];
        await client.ReadExactlyAsync(back, _timeout.Token);
        Assert.Equal(sent[3], back);
    }
}
