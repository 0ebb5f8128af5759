using System.CommandLine;
using Serilog.Events;
using TunnelActors.Auth;
using TunnelActors.Configuration;
using TunnelActors.Hosting;
using TunnelActors.Tools.Demo;
using TunnelActors.Tools.Bench;

namespace TunnelActors.Cli;

/// <summary>The command line: <c>run</c> one side, <c>check</c> its configuration, the <c>demo</c> of both sides on loopback, or <c>bench</c> a UDP path.</summary>
internal static class Commands
{
    public static RootCommand Build()
    {
        var root = new RootCommand("TunnelActors: a bidirectional UDP-over-TCP relay (RFC 4571 framing, udptunnel-compatible).");
        root.Subcommands.Add(RunCommand());
        root.Subcommands.Add(CheckCommand());
        root.Subcommands.Add(KeygenCommand());
        root.Subcommands.Add(DemoCommand());
        root.Subcommands.Add(BenchCommand.Build());
        root.Subcommands.Add(ManCommand(root));
        return root;
    }

    private static Command RunCommand()
    {
        var side = new SideOptions();
        var logLevel = LogLevelOption();
        var logFormat = new Option<LogFormat>("--log-format")
        {
            Description = "text: lines for people; journal: no timestamps, each line with its syslog priority (the default when " +
                          "systemd's journal reads stderr); json: one JSON object per line (Serilog's compact format) for log shippers",
            DefaultValueFactory = _ => LogFormats.Default(),
            HelpName = "text|journal|json",
        };
        var command = new Command("run", "Run one side of the tunnel until interrupted.");
        side.AddTo(command);
        command.Options.Add(logLevel);
        command.Options.Add(logFormat);
        command.SetAction((result, cancellation) =>
            RunSide.RunAsync(() => side.Load(result), result.GetValue(logLevel), result.GetValue(logFormat), cancellation));
        return command;
    }

    private static Command CheckCommand()
    {
        var side = new SideOptions();
        var command = new Command("check",
            "Validate a side's configuration without binding anything: exit 2 with the same one-line error as run, " +
            "or print the effective tunnel settings (file, flags and defaults merged) and exit 0.");
        side.AddTo(command);
        command.SetAction(result =>
        {
            try
            {
                var configuration = side.Load(result);
                Console.Write(EffectiveSettings.Render(configuration.Config));
                foreach (var (key, endpoint) in configuration.Settings.ListenEndpoints().Where(e => e.Endpoint.Port is > 0 and < 1024))
                    Console.Error.WriteLine($"tunnelactors: note: {key} {endpoint} is a port below 1024: as a tunnelactors@ service this " +
                                            "instance needs CAP_NET_BIND_SERVICE (/usr/share/doc/tunnelactors/examples/low-port.conf)");
                return 0;
            }
            catch (ConfigurationException e)
            {
                Console.Error.WriteLine($"tunnelactors: configuration error: {e.Message}");
                return 2;
            }
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
        command.SetAction((result, cancellation) => Tools.Demo.DemoCommand.RunAsync(result.GetValue(logLevel), cancellation));
        return command;
    }

    /// <summary>Hidden: prints the man page the package installs.</summary>
    private static Command ManCommand(RootCommand root)
    {
        var command = new Command("man", "Print tunnelactors(1) in roff.") { Hidden = true };
        command.SetAction(_ =>
        {
            var version = typeof(Commands).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
            Console.Write(ManPage.Render(root, version));
            return 0;
        });
        return command;
    }

    private static Option<LogEventLevel> LogLevelOption() => new("--log-level")
    {
        Description = "Verbose, Debug, Information, Warning, Error or Fatal",
        DefaultValueFactory = _ => LogEventLevel.Information,
        HelpName = "LEVEL",
    };
}
