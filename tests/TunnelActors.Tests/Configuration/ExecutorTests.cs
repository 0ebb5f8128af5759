using System.Net;
using TunnelActors.Configuration;
using TunnelActors.Tests.Support;
using TunnelActors.Tools.Demo;
using Xunit;

namespace TunnelActors.Tests.Configuration;

/// <summary><c>tunnel.executor</c>: what runs a side's actors.</summary>
public sealed class ExecutorTests
{
    [Theory]
    [InlineData("inline", "TunnelActors.Transport.InlineExecutorConfigurator, TunnelActors.Core")]
    [InlineData("thread-pool", "default-executor")]
    public async Task Either_executor_carries_every_peer_and_is_the_one_the_actors_run_on(string executor, string configured)
    {
        using var echo = new UdpEcho(new IPEndPoint(IPAddress.Loopback, 0));
        await using var server = await Sides.StartAsync($"{executor}-server", ("tunnel.tcp.listen", "127.0.0.1:0"),
            ("tunnel.udp.forward", echo.LocalEndPoint.ToString()), ("tunnel.executor", executor));
        await using var client = await Sides.StartAsync($"{executor}-client", ("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", server.TcpEndpoint.ToString()), ("tunnel.executor", executor));

        Assert.Equal(configured, client.System.Settings.Config.GetString("akka.actor.default-dispatcher.executor"));
        Assert.Empty(await Peers.EchoAsync(client.UdpEndpoint, 20, [1, 1200]));
    }

    [Fact]
    public void An_executor_that_does_not_exist_names_its_key()
    {
        var e = Assert.Throws<ConfigurationException>(() => Sides.Configure(("tunnel.udp.listen", "127.0.0.1:0"),
            ("tunnel.tcp.connect", "127.0.0.1:9"), ("tunnel.executor", "fast")));
        Assert.Equal("tunnel.executor", e.Key);
        Assert.Contains("inline or thread-pool", e.Message);
    }
}
