using System.Text.RegularExpressions;
using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors.Configuration;
using TunnelActors.Framing;

namespace TunnelActors.Tests.Configuration;

/// <summary>TUNNELACTORS_* variables: over the file, under the flags, each named next to its setting.</summary>
public sealed class EnvironmentTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public void Every_setting_names_its_variable_on_its_line_in_the_reference()
    {
        using var stream = typeof(TunnelConfiguration).Assembly.GetManifestResourceStream("TunnelActors.reference.conf")!;
        var text = new StreamReader(stream).ReadToEnd();
        var named = new Dictionary<string, string>();
        var path = new Stack<string>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (Regex.Match(line, @"^([a-z0-9-]+)\s*\{$") is { Success: true } open) path.Push(open.Groups[1].Value);
            else if (line == "}") path.Pop();
            else if (Regex.Match(line, @"^([a-z0-9-]+)\s*=.*#\s*(TUNNELACTORS_[A-Z0-9_]+)$") is { Success: true } leaf)
                named[string.Join('.', path.Reverse().Append(leaf.Groups[1].Value))] = leaf.Groups[2].Value;
        }

        Assert.NotEmpty(named);
        foreach (var (variable, key) in EnvironmentOverrides.Variables)
            Assert.True(named.TryGetValue(key, out var shown) && shown == variable, $"{key}: its line should end with # {variable}");
        Assert.Equal(EnvironmentOverrides.Variables.Count, named.Count);
        Assert.Equal("TUNNELACTORS_UDP_LISTEN", EnvironmentOverrides.NameOf("tunnel.udp.listen"));
        Assert.Equal("tunnel.tcp.keepalive.idle", EnvironmentOverrides.Variables["TUNNELACTORS_TCP_KEEPALIVE_IDLE"]);
    }

    [Fact]
    public void A_trailing_comment_does_not_change_a_value()
    {
        var settings = TunnelConfiguration.FromHocon("tunnel { udp.listen = \"127.0.0.1:0\", tcp.connect = \"127.0.0.1:9\" }").Settings;
        Assert.Equal(4 * 1024 * 1024, settings.Udp.ReceiveBuffer);
        Assert.Equal(TimeSpan.FromSeconds(10), settings.Tcp.ConnectTimeout);
        Assert.Equal("", TunnelConfiguration.Reference.GetString("tunnel.udp.listen"));
    }

    [Fact]
    public void The_environment_overrides_the_file_and_the_flags_override_the_environment()
    {
        using var file = new TempFile("tunnel { udp.forward = \"127.0.0.1:53\", tcp.listen = \"127.0.0.1:0\", session.idle-timeout = 60s, tcp.pool-size = 2 }");
        var environment = Variables(("TUNNELACTORS_SESSION_IDLE_TIMEOUT", "90s"), ("TUNNELACTORS_TCP_POOL_SIZE", "3"),
            ("TUNNELACTORS_UDP_LISTEN", "127.0.0.1:0"), ("TUNNELACTORS_AUTH_ALLOW_UNAUTHENTICATED", "on"), ("PATH", "/bin"));
        var flags = new Dictionary<string, string> { ["tunnel.tcp.pool-size"] = "5" };

        var settings = TunnelConfiguration.Load(file.Path, flags, EnvironmentOverrides.Read(environment)).Settings;

        Assert.Equal(TimeSpan.FromSeconds(90), settings.Session.IdleTimeout);
        Assert.Equal(5, settings.Tcp.PoolSize);
        // A role from the environment replaces the file's role for that transport, as a flag does.
        Assert.Equal(UdpRole.Listen, settings.Udp.Role);
        Assert.Equal(TcpRole.Listen, settings.Tcp.Role);
    }

    [Fact]
    public void An_unknown_TUNNELACTORS_variable_is_an_error_naming_it()
    {
        var e = Assert.Throws<ConfigurationException>(() => EnvironmentOverrides.Read(Variables(("TUNNELACTORS_UDP_LISTN", "127.0.0.1:0"))));
        Assert.StartsWith("TUNNELACTORS_UDP_LISTN: unknown environment variable", e.Message);
    }

    [Fact]
    public void Kubernetes_and_Docker_link_variables_under_the_prefix_are_passed_over()
    {
        var overrides = EnvironmentOverrides.Read(Variables(("TUNNELACTORS_SERVICE_HOST", "10.0.0.1"), ("TUNNELACTORS_SERVICE_PORT", "9999"),
            ("TUNNELACTORS_SERVICE_PORT_TUNNEL", "9999"), ("TUNNELACTORS_PORT", "tcp://10.0.0.1:9999"), ("TUNNELACTORS_PORT_9999_TCP", "tcp://10.0.0.1:9999"),
            ("TUNNELACTORS_PORT_9999_TCP_PROTO", "tcp"), ("TUNNELACTORS_PORT_9999_TCP_PORT", "9999"), ("TUNNELACTORS_PORT_9999_TCP_ADDR", "10.0.0.1"),
            ("TUNNELACTORS_NAME", "/web/tunnelactors"), ("TUNNELACTORS_ENV_FOO", "bar"), ("TUNNELACTORS_UDP_LISTEN", "127.0.0.1:0")));
        Assert.Equal(new Dictionary<string, string> { ["tunnel.udp.listen"] = "127.0.0.1:0" }, overrides);
        Assert.DoesNotContain(EnvironmentOverrides.Variables.Keys, EnvironmentOverrides.IsServiceLink);
        Assert.Throws<ConfigurationException>(() => EnvironmentOverrides.Read(Variables(("TUNNELACTORS_PORTS", "1"))));
    }

    [Fact]
    public void A_bad_value_from_the_environment_names_the_setting_and_the_variable()
    {
        var environment = Variables(("TUNNELACTORS_SESSION_IDLE_TIMEOUT", "soon"));
        var e = Assert.Throws<ConfigurationException>(() =>
            TunnelConfiguration.Load(null, new Dictionary<string, string> { ["tunnel.udp.listen"] = "127.0.0.1:0", ["tunnel.tcp.connect"] = "127.0.0.1:9" },
                EnvironmentOverrides.Read(environment)));
        Assert.StartsWith("tunnel.session.idle-timeout (from TUNNELACTORS_SESSION_IDLE_TIMEOUT): ", e.Message);
    }

    [Fact]
    public async Task A_side_configured_only_by_the_environment_checks_and_a_bad_variable_stops_run()
    {
        var environment = new Dictionary<string, string>
        {
            ["TUNNELACTORS_UDP_LISTEN"] = "127.0.0.1:0",
            ["TUNNELACTORS_TCP_CONNECT"] = "127.0.0.1:9",
            ["TUNNELACTORS_SESSION_MAX_PER_SOURCE"] = "7",
        };
        var check = await ProgramProcess.RunWithAsync(environment, Timeout, "check");
        Assert.Equal(0, check.ExitCode);
        Assert.Contains("max-per-source = \"7\"", check.Stdout);
        Assert.Contains("listen = \"127.0.0.1:0\"", check.Stdout);

        environment["TUNNELACTORS_SESSION_MAX_PER_SOURCE"] = "none";
        var bad = await ProgramProcess.RunWithAsync(environment, Timeout, "run");
        Assert.Equal(2, bad.ExitCode);
        var line = Assert.Single(bad.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("tunnel.session.max-per-source (from TUNNELACTORS_SESSION_MAX_PER_SOURCE)", line);
    }

    private static System.Collections.Hashtable Variables(params (string Name, string Value)[] variables)
    {
        var table = new System.Collections.Hashtable();
        foreach (var (name, value) in variables) table[name] = value;
        return table;
    }
}
