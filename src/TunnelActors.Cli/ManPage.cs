using System.CommandLine;
using System.Text;
using TunnelActors.Configuration;

namespace TunnelActors.Cli;

/// <summary>
/// <c>tunnelactors(1)</c> in roff, from the same commands, options and descriptions as <c>--help</c>, with the
/// environment variables of every setting: what the Debian package installs (<c>tunnelactors man</c>).
/// </summary>
internal static class ManPage
{
    public static string Render(RootCommand root, string version)
    {
        var page = new StringBuilder();
        page.Append(".TH TUNNELACTORS 1 \"\" \"tunnelactors ").Append(Escape(version)).Append("\" \"User Commands\"\n");
        page.Append(".SH NAME\ntunnelactors \\- ").Append(Escape(Summary(root.Description))).Append('\n');
        page.Append(".SH SYNOPSIS\n");
        foreach (var command in Visible(root))
            page.Append(".B tunnelactors ").Append(Escape(command.Name)).Append("\n.RI [ options ]\n.br\n");
        page.Append(".SH DESCRIPTION\n").Append(Escape(root.Description ?? "")).Append('\n');
        page.Append(".PP\nOne side runs on each end of a path that carries only TCP: the UDP-listen side takes datagrams from any ")
            .Append("source and sends each reply back to exactly that address and port; the UDP-forward side sends to one fixed ")
            .Append("target. Either side may listen for or dial the TCP connection. Settings come from the defaults in\n")
            .Append(".IR /usr/share/doc/tunnelactors/reference.conf ,\n")
            .Append("then the file given with \\fB\\-\\-config\\fR, then the environment, then the flags.\n");
        page.Append(".SH COMMANDS\n");
        foreach (var command in Visible(root)) Describe(page, command, "tunnelactors " + command.Name);
        page.Append(".SH ENVIRONMENT\n")
            .Append("Each setting of the tunnel block can be set by a variable: TUNNELACTORS_ and its path below tunnel, upper-cased, ")
            .Append("with dots and dashes as underscores. A variable overrides the configuration file; a flag overrides the variable. ")
            .Append("An unknown TUNNELACTORS_ variable is an error, except those container platforms set for a service named tunnelactors ")
            .Append("(TUNNELACTORS_SERVICE_HOST, TUNNELACTORS_PORT..., TUNNELACTORS_NAME, TUNNELACTORS_ENV_...).\n");
        foreach (var (variable, key) in EnvironmentOverrides.Variables.OrderBy(v => v.Value, StringComparer.Ordinal))
            page.Append(".TP\n.B ").Append(Escape(variable)).Append('\n').Append(Escape($"{key} (default: {Default(key)})")).Append('\n');
        page.Append(".TP\n.B NOTIFY_SOCKET, WATCHDOG_USEC\nSet by systemd for a Type=notify unit: the side reports READY=1 once every socket ")
            .Append("is bound, and pings the watchdog while its actors answer.\n")
            .Append(".TP\n.B JOURNAL_STREAM\nSet by systemd when the journal reads stderr: the log format defaults to journal.\n");
        page.Append(".SH EXIT STATUS\n.TP\n.B 0\nStopped by SIGTERM or SIGINT, or the command succeeded.\n")
            .Append(".TP\n.B 1\nThe side gave up by itself (tunnel.tcp.reconnect.max-retries, or an endpoint that stopped for good).\n")
            .Append(".TP\n.B 2\nA configuration error or a socket that could not be bound, said in one line on stderr that names the setting.\n");
        page.Append(".SH FILES\n.TP\n.I /etc/tunnelactors/*.hocon\nOne configuration per service instance: ")
            .Append("\\fBsystemctl enable \\-\\-now tunnelactors@\\fR\\fINAME\\fR runs \\fI/etc/tunnelactors/NAME.hocon\\fR.\n")
            .Append(".TP\n.I /usr/share/doc/tunnelactors/\nThe reference configuration with every setting, and the operator's guide.\n");
        page.Append(".SH SEE ALSO\n.BR systemctl (1),\n.BR journalctl (1),\n.BR udptunnel (1)\n");
        return page.ToString();
    }

    private static void Describe(StringBuilder page, Command command, string path)
    {
        page.Append(".SS \"").Append(Escape(path)).Append("\"\n").Append(Escape(command.Description ?? "")).Append('\n');
        foreach (var option in command.Options.Where(o => !o.Hidden))
        {
            var names = Escape(string.Join(", ", option.Aliases.Prepend(option.Name).Distinct().OrderBy(a => a.Length)));
            page.Append(option.ValueType == typeof(bool) ? $".TP\n.B {names}\n" : $".TP\n.BI \"{names} \" {Escape(option.HelpName ?? "VALUE")}\n");
            page.Append(Escape(option.Description ?? "")).Append('\n');
        }
        foreach (var subcommand in Visible(command)) Describe(page, subcommand, path + " " + subcommand.Name);
    }

    private static string Default(string key)
    {
        var value = TunnelConfiguration.Reference.GetValue(key);
        return value.IsArray() ? "[]" : value.GetString() is { Length: > 0 } text ? text : "\"\"";
    }

    private static IEnumerable<Command> Visible(Command root) => root.Subcommands.Where(c => !c.Hidden);

    /// <summary>The root's description without its leading name: "a bidirectional UDP-over-TCP relay (…)".</summary>
    private static string Summary(string? description) => (description ?? "").Split(": ", 2)[^1].TrimEnd('.');

    /// <summary>Text as roff reads it literally: backslashes and hyphens escaped, no line taken for a request.</summary>
    private static string Escape(string text)
    {
        var escaped = text.Replace("\\", "\\e").Replace("-", "\\-").Replace("\n", " ");
        return escaped.StartsWith('.') || escaped.StartsWith('\'') ? "\\&" + escaped : escaped;
    }
}
