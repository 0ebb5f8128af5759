using System.CommandLine;
using System.Net.Sockets;
using TunnelActors.Tools.Bench.Echo;

namespace TunnelActors.Tools.Bench;

/// <summary><c>tunnelactors bench echo</c>: the far end of a measurement, with optional fault injection.</summary>
internal static class EchoCommand
{
    public static Command Build()
    {
        var bind = BenchOptions.Endpoint("--bind", "UDP address to answer on (port 0: any free port, printed at start)", required: true);
        var replyTo = BenchOptions.Endpoint("--reply-to",
            "send every reply to this one address instead of its datagram's source (Debian udptunnel sends from an ephemeral socket but listens only on its fixed port)");
        var drop = FaultEvery("--drop-every", "drop every N-th datagram");
        var dup = FaultEvery("--dup-every", "answer every N-th datagram twice");
        var corrupt = FaultEvery("--corrupt-every", "flip the last byte of every N-th datagram");
        var swap = FaultEvery("--swap-every", "hold every N-th datagram back until the next one is answered (reorders the two)");
        var reuse = new Option<bool>("--reuse-address")
        {
            Description = "set SO_REUSEADDR, to share the port with a program bound to the wildcard address (udptunnel)",
        };
        var command = new Command("echo",
            "UDP echo server: answers each datagram to its source (or --reply-to). Prints its address at start and its totals on SIGINT/SIGTERM, then exits 0.")
        {
            bind, replyTo, drop, dup, corrupt, swap, reuse,
        };
        command.SetAction((result, cancellation) => RunAsync(new EchoOptions(
            result.GetValue(bind)!, result.GetValue(replyTo), result.GetValue(drop), result.GetValue(dup),
            result.GetValue(corrupt), result.GetValue(swap), result.GetValue(reuse)), cancellation));
        return command;
    }

    private static Option<int> FaultEvery(string name, string what) =>
        BenchOptions.Integer(name, $"fault injection: {what}; 0 = never", 0, 0, int.MaxValue);

    private static async Task<int> RunAsync(EchoOptions options, CancellationToken cancellation)
    {
        using var signals = new TerminationSignals(cancellation);
        EchoServer echo;
        try
        {
            echo = new EchoServer(options);
        }
        catch (SocketException e)
        {
            await Console.Error.WriteLineAsync($"tunnelactors bench echo: cannot bind {options.Bind}: {e.Message}");
            return 2;
        }
        using (echo)
        {
            await Console.Error.WriteLineAsync(
                $"tunnelactors bench echo: listening on {echo.LocalEndPoint}, replies to {options.ReplyTo?.ToString() ?? "the source address"}");
            await Task.WhenAny(echo.Stopped, Task.Delay(Timeout.Infinite, signals.Token));
            var totals = echo.Stop();
            await Console.Out.WriteLineAsync($"tunnelactors bench echo: {totals}");
            return signals.Token.IsCancellationRequested ? 0 : 1;
        }
    }
}
