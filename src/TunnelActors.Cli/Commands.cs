using System.CommandLine;
using Serilog.Events;

namespace TunnelActors.Cli;

/// <summary>The command line: <c>run</c> one side, the <c>demo</c> of both sides on loopback, or <c>bench</c> a UDP path.</summary>
internal static class Commands
{
    public static RootCommand Build()
    {
        var root = new RootCommand("TunnelActors: a bidirectional UDP-over-TCP relay (RFC 4571 framing, udptunnel-compatible).");
        root.Subcommands.Add(RunCommand());
        root.Subcommands.Add(KeygenCommand());
        root.Subcommands.Add(DemoCommand());
        root.Subcommands.Add(Bench.BenchCommand.Build());
        return root;
    }

    private static Command RunCommand()
    {
        var config = new Option<FileInfo?>("--config") { Description = "HOCON file with a tunnel { } block; flags override it", HelpName = "FILE" };
        var udpListen = new Option<string?>("--udp-listen") { Description = "accept datagrams from any peer on ADDR:PORT", HelpName = "ADDR:PORT" };
        var udpForward = new Option<string?>("--udp-forward") { Description = "send datagrams to the fixed target HOST:PORT", HelpName = "HOST:PORT" };
        var tcpListen = new Option<string?>("--tcp-listen") { Description = "accept tunnel connections on ADDR:PORT", HelpName = "ADDR:PORT" };
        var tcpConnect = new Option<string?>("--tcp-connect") { Description = "dial the far side at HOST:PORT", HelpName = "HOST:PORT" };
        var poolSize = new Option<string?>("--pool-size") { Description = "idle pre-dialed connections (TCP connect + UDP forward); 0 = one, redialled", HelpName = "N" };
        var idleTimeout = new Option<string?>("--idle-timeout") { Description = "end a session idle this long, e.g. 180s, 5m; 0 = never", HelpName = "DURATION" };
        var pskFile = new Option<string?>("--psk-file") { Description = "authenticate every tunnel connection with the key in FILE (tunnelactors keygen); both sides need it", HelpName = "FILE" };
        var noAuth = new Option<bool>("--no-auth") { Description = "let a side that listens on both UDP and TCP start without a key or --tcp-allow" };
        var tcpAllow = new Option<string[]>("--tcp-allow") { Description = "take tunnel connections only from this network (repeatable)", HelpName = "CIDR", AllowMultipleArgumentsPerToken = false };
        var udpAllow = new Option<string[]>("--udp-allow") { Description = "take datagrams only from this network (repeatable)", HelpName = "CIDR", AllowMultipleArgumentsPerToken = false };
        var metrics = new Option<string>("--metrics") { Description = "serve /metrics (Prometheus) and /healthz on this address", HelpName = "ADDR:PORT" };
        var redact = new Option<bool>("--redact-addresses") { Description = "show peer addresses in logs as a short hash, the same for the same peer" };
        var logLevel = LogLevelOption();

        var command = new Command("run", "Run one side of the tunnel until interrupted.")
        {
            config, udpListen, udpForward, tcpListen, tcpConnect, poolSize, idleTimeout, pskFile, noAuth, tcpAllow, udpAllow, redact, metrics, logLevel,
        };
        command.SetAction((result, cancellation) =>
        {
            var overrides = new Dictionary<string, string>();
            Role(overrides, "tunnel.udp", "listen", result.GetValue(udpListen), "forward", result.GetValue(udpForward));
            Role(overrides, "tunnel.tcp", "listen", result.GetValue(tcpListen), "connect", result.GetValue(tcpConnect));
            if (result.GetValue(poolSize) is { } pool) overrides["tunnel.tcp.pool-size"] = pool;
            if (result.GetValue(idleTimeout) is { } idle) overrides["tunnel.session.idle-timeout"] = idle;
            if (result.GetValue(pskFile) is { } key) overrides["tunnel.auth.psk-file"] = Path.GetFullPath(key);
            if (result.GetValue(noAuth)) overrides["tunnel.auth.allow-unauthenticated"] = "on";
            if (result.GetValue(redact)) overrides["tunnel.log.redact-addresses"] = "on";
            if (result.GetValue(metrics) is { } metricsListen) overrides["tunnel.metrics.listen"] = metricsListen;
            if (result.GetValue(tcpAllow) is { Length: > 0 } tcpNetworks) overrides["tunnel.tcp.allow"] = string.Join(',', tcpNetworks);
            if (result.GetValue(udpAllow) is { Length: > 0 } udpNetworks) overrides["tunnel.udp.allow"] = string.Join(',', udpNetworks);
            return RunSide.RunAsync(result.GetValue(config)?.FullName, overrides, result.GetValue(logLevel), cancellation);
        });
        return command;
    }

    private static Command KeygenCommand()
    {
        var command = new Command("keygen",
            "Print a new 256-bit pre-shared key (64 hexadecimal digits). Save it in a file only the relay's user can read: " +
            "(umask 077; tunnelactors keygen > tunnel.key), and give that file to both sides with --psk-file.");
        command.SetAction(_ =>
        {
            Console.WriteLine(Auth.PreSharedKey.Generate());
            return 0;
        });
        return command;
    }

    private static Command DemoCommand()
    {
        var logLevel = LogLevelOption();
        var command = new Command("demo",
            "Run both sides of the seed deployment on loopback with an echo target and several phantom-port clients; exit 0 when every reply reached its sender.")
        {
            logLevel,
        };
        command.SetAction((result, cancellation) => Demo.DemoCommand.RunAsync(result.GetValue(logLevel), cancellation));
        return command;
    }

    private static Option<LogEventLevel> LogLevelOption() => new("--log-level")
    {
        Description = "Verbose, Debug, Information, Warning, Error or Fatal",
        DefaultValueFactory = _ => LogEventLevel.Information,
        HelpName = "LEVEL",
    };

    /// <summary>A role flag replaces the file's choice for that transport, so the other role is cleared.</summary>
    private static void Role(Dictionary<string, string> overrides, string block, string first, string? firstValue, string second, string? secondValue)
    {
        if (firstValue is null && secondValue is null) return;
        overrides[$"{block}.{first}"] = firstValue ?? "";
        overrides[$"{block}.{second}"] = secondValue ?? "";
    }
}
