using System.Diagnostics;

namespace TunnelActors.Tests.Support;

/// <summary>
/// Debian's squid, started for one test on a loopback port with basic authentication (one user, its password hashed by
/// <c>openssl passwd -apr1</c>) and CONNECT allowed to any port; stopped by its PID when disposed.
/// </summary>
public sealed class Squid : IDisposable
{
    public const string Program = "/usr/sbin/squid";
    private const string Helper = "/usr/lib/squid/basic_ncsa_auth";
    private readonly Process _process;
    private readonly string _directory;

    private Squid(string user, string password)
    {
        _directory = Directory.CreateTempSubdirectory("tunnelactors-squid-").FullName;
        // squid drops to its own user: it must reach its files.
        if (OperatingSystem.IsLinux()) File.SetUnixFileMode(_directory, (UnixFileMode)0b111_101_101);
        var passwd = Path.Combine(_directory, "passwd");
        File.WriteAllText(passwd, $"{user}:{Hash(password)}\n");
        if (OperatingSystem.IsLinux()) File.SetUnixFileMode(passwd, (UnixFileMode)0b110_100_100);
        Port = LocalServer.FreePort();
        var config = Path.Combine(_directory, "squid.conf");
        File.WriteAllText(config, $"""
            http_port 127.0.0.1:{Port}
            auth_param basic program {Helper} {passwd}
            auth_param basic realm tunnelactors-test
            acl authed proxy_auth REQUIRED
            http_access allow authed
            http_access deny all
            cache deny all
            cache_mem 8 MB
            access_log none
            cache_log {Path.Combine(_directory, "cache.log")}
            pid_filename {Path.Combine(_directory, "squid.pid")}
            coredump_dir {_directory}
            shutdown_lifetime 0 seconds
            """);
        _process = Process.Start(new ProcessStartInfo(Program, ["-N", "-f", config]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        _process.ErrorDataReceived += (_, _) => { };
        _process.OutputDataReceived += (_, _) => { };
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
    }

    public int Port { get; }

    public string Url(string user, string password) => $"http://{Uri.EscapeDataString(user)}:{Uri.EscapeDataString(password)}@127.0.0.1:{Port}";

    /// <summary>Whether this machine has squid and its helper; under CI it must.</summary>
    public static bool Available => File.Exists(Program) && File.Exists(Helper);

    public static async Task<Squid> StartAsync(string user, string password)
    {
        var squid = new Squid(user, password);
        if (await LocalServer.ListeningAsync(squid.Port, squid._process)) return squid;
        var log = squid.Log;
        squid.Dispose();
        throw new InvalidOperationException($"squid did not start: {log}");
    }

    public string Log => File.Exists(Path.Combine(_directory, "cache.log")) ? File.ReadAllText(Path.Combine(_directory, "cache.log")) : "(no cache.log)";

    private static string Hash(string password)
    {
        var openssl = Process.Start(new ProcessStartInfo("openssl", ["passwd", "-apr1", password]) { RedirectStandardOutput = true })!;
        var hash = openssl.StandardOutput.ReadToEnd().Trim();
        openssl.WaitForExit();
        if (openssl.ExitCode != 0 || !hash.StartsWith("$apr1$")) throw new InvalidOperationException($"openssl passwd -apr1 gave '{hash}'");
        return hash;
    }

    public void Dispose() => LocalServer.Stop(_process, _directory);
}

/// <summary>A fact that needs Debian's squid: skipped without it, except under CI, where it must run.</summary>
public sealed class SquidFactAttribute : Xunit.FactAttribute
{
    public SquidFactAttribute()
    {
        if (!Squid.Available && Environment.GetEnvironmentVariable("CI") != "true")
            Skip = "needs Debian's squid (apt-get install squid); CI installs it";
    }
}
