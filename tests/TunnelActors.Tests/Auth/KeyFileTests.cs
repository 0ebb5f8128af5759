using System.Reflection;
using System.Runtime.Versioning;
using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors.Auth;
using TunnelActors.Configuration;

namespace TunnelActors.Tests.Auth;

[UnsupportedOSPlatform("windows")]
public sealed class KeyFileTests
{
    private const string Setting = "tunnel.auth.psk-file";

    [Fact]
    public void A_keygen_key_loads_and_a_file_only_its_owner_reads_raises_no_warning()
    {
        using var file = new TempFile(PreSharedKey.Generate() + "\n");
        File.SetUnixFileMode(file.Path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.Null(KeyFile.Load(Setting, file.Path).ReadableByGroup);
        Assert.Empty(ExposureWarnings.For(Keyed(file.Path)));
    }

    [Fact]
    public void Both_ends_with_keys_from_the_same_file_complete_the_handshake()
    {
        using var file = new TempFile(PreSharedKey.Generate());
        var dialer = new Handshake(KeyFile.Load(Setting, file.Path), HandshakeRole.Dialer, TimeSpan.FromMinutes(5));
        var listener = new Handshake(KeyFile.Load(Setting, file.Path), HandshakeRole.Listener, TimeSpan.FromMinutes(5), new ReplayCache(10));
        var accepted = listener.Receive(dialer.Greeting);
        Assert.Equal(Handshake.State.Done, accepted.State);
        Assert.Equal(Handshake.State.Done, dialer.Receive(accepted.ProofToSend!).State);
    }

    [Fact]
    public void The_key_is_not_exposed_and_not_printed()
    {
        using var file = new TempFile(PreSharedKey.Generate());
        var hex = File.ReadAllText(file.Path);
        var key = KeyFile.Load(Setting, file.Path);
        Assert.DoesNotContain(typeof(PreSharedKey).GetMembers(), member => member is PropertyInfo { PropertyType.IsArray: true }
            or FieldInfo { IsPublic: true, IsLiteral: false } or MethodInfo { IsPublic: true, ReturnType.IsArray: true });
        Assert.DoesNotContain(hex, key.ToString(), StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("not a key at all", "does not hold a key")]
    [InlineData("00112233", "32-bit key")]
    [InlineData("", "is empty")]
    public void A_bad_key_file_names_the_setting_and_says_what_is_wrong(string contents, string expected)
    {
        using var file = new TempFile(contents);
        var e = Assert.Throws<ConfigurationException>(() => KeyFile.Load(Setting, file.Path));
        Assert.Equal(Setting, e.Key);
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("0.0.0.0:9999", null, true)]
    [InlineData("[::]:9999", null, true)]
    [InlineData("0.0.0.0:9999", "192.0.2.0/24", false)]
    [InlineData("127.0.0.1:9999", null, false)]
    [InlineData("[::1]:9999", null, false)]
    public void A_plain_tcp_listen_side_reachable_from_outside_warns_at_start(string listen, string? allow, bool warns)
    {
        (string, string)[] settings = [("tunnel.tcp.listen", listen), ("tunnel.udp.forward", "127.0.0.1:53")];
        if (allow is not null) settings = [.. settings, ("tunnel.tcp.allow", allow)];
        var warnings = ExposureWarnings.For(Sides.Configure(settings).Settings);
        Assert.Equal(warns, warnings.Any(warning => warning.Contains("not authenticated")));
    }

    [Fact]
    public void A_keyed_side_listening_on_every_address_does_not_warn()
    {
        using var file = new TempFile(PreSharedKey.Generate());
        Assert.Empty(ExposureWarnings.For(Keyed(file.Path)));
    }

    private static TunnelSettings Keyed(string keyFile) =>
        Sides.Configure(("tunnel.tcp.listen", "0.0.0.0:9999"), ("tunnel.udp.forward", "127.0.0.1:53"), (Setting, keyFile)).Settings;
}
