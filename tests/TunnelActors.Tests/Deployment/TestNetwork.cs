using TunnelActors.Tests.Support;

namespace TunnelActors.Tests.Deployment;

/// <summary>
/// Machines of a deployment as network namespaces of the test's own, joined by veth links: addresses in them
/// (the guide's documentation addresses) exist nowhere else. Deleted, with their links, on dispose (or by the next
/// test process: <see cref="NamespaceNames"/>).
/// </summary>
public class TestNetwork : IAsyncDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly string _id = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3));
    private readonly List<string> _names = [];

    /// <summary>A new machine: a namespace with its loopback up.</summary>
    protected async Task<string> AddAsync(string role)
    {
        var name = await NamespaceNames.NewAsync($"{_id}-{role}");
        await Ip("netns", "add", name);
        _names.Add(name);
        await Ip("-n", name, "link", "set", "lo", "up");
        return name;
    }

    /// <summary>A cable between two machines, with an address on each end.</summary>
    protected static async Task LinkAsync(string a, string aName, string aAddress, string b, string bName, string bAddress)
    {
        await Ip("link", "add", aName, "netns", a, "type", "veth", "peer", "name", bName, "netns", b);
        await Ip("-n", a, "addr", "add", aAddress, "dev", aName);
        await Ip("-n", b, "addr", "add", bAddress, "dev", bName);
        await Ip("-n", a, "link", "set", aName, "up");
        await Ip("-n", b, "link", "set", bName, "up");
    }

    /// <summary>Runs a command on a machine, to its end.</summary>
    public static Task<Command.Outcome> RunAsync(string machine, params string[] command) =>
        Command.RunAsync(Wait, "ip", ["netns", "exec", machine, .. command]);

    public static Task<Command.Outcome> SucceedAsync(string machine, params string[] command) =>
        Command.SucceedAsync(Wait, "ip", ["netns", "exec", machine, .. command]);

    protected static Task Ip(params string[] args) => Command.SucceedAsync(Wait, "ip", args);

    public async ValueTask DisposeAsync()
    {
        foreach (var name in _names)
            await Command.RunAsync(Wait, "ip", ["netns", "del", name]);
        GC.SuppressFinalize(this);
    }
}

/// <summary>The seed deployment's four machines, wired as the guide's table says.</summary>
public sealed class SeedNetwork : TestNetwork
{
    public string Client { get; private set; } = "";
    public string NatBox { get; private set; } = "";
    public string Relay { get; private set; } = "";
    public string Pop { get; private set; } = "";

    public static async Task<SeedNetwork> CreateAsync()
    {
        var network = new SeedNetwork();
        try
        {
            network.Client = await network.AddAsync("client");
            network.NatBox = await network.AddAsync("nat");
            network.Relay = await network.AddAsync("relay");
            network.Pop = await network.AddAsync("pop");
            await LinkAsync(network.Client, "eth0", "192.168.99.105/24", network.NatBox, "lan0", "192.168.99.1/24");
            await LinkAsync(network.NatBox, "wan0", "192.0.2.10/24", network.Relay, "eth0", "192.0.2.20/24");
            await LinkAsync(network.Relay, "eth1", "198.51.100.1/24", network.Pop, "eth0", "198.51.100.40/24");
            // The client believes the POP is on the Internet, past its NAT box.
            await Ip("-n", network.Client, "route", "add", "default", "via", "192.168.99.1");
        }
        catch
        {
            await network.DisposeAsync();
            throw;
        }
        return network;
    }
}

/// <summary>
/// The WireGuard deployment's client and server with a router between them, so that the client reaches the
/// server only through its default route: the one wg-quick takes over.
/// </summary>
public sealed class WireGuardNetwork : TestNetwork
{
    public string Client { get; private set; } = "";
    public string Server { get; private set; } = "";

    public static async Task<WireGuardNetwork> CreateAsync()
    {
        var network = new WireGuardNetwork();
        try
        {
            network.Client = await network.AddAsync("wgclient");
            var router = await network.AddAsync("router");
            network.Server = await network.AddAsync("wgserver");
            await LinkAsync(network.Client, "eth0", "192.0.2.2/24", router, "lan0", "192.0.2.1/24");
            await LinkAsync(router, "wan0", "203.0.113.1/24", network.Server, "eth0", "203.0.113.5/24");
            await SucceedAsync(router, "sysctl", "-qw", "net.ipv4.ip_forward=1");
            await Ip("-n", network.Client, "route", "add", "default", "via", "192.0.2.1");
            await Ip("-n", network.Server, "route", "add", "default", "via", "203.0.113.1");
        }
        catch
        {
            await network.DisposeAsync();
            throw;
        }
        return network;
    }
}
