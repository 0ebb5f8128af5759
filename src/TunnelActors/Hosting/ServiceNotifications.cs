using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Hosting.Systemd;
using Serilog;

namespace TunnelActors.Hosting;

/// <summary>
/// What a side tells systemd when a <c>Type=notify</c> unit started it (<c>NOTIFY_SOCKET</c> is set): ready
/// once every socket is bound, a status line, watchdog pings while the actor system answers, and stopping.
/// Outside systemd every call does nothing.
/// </summary>
public sealed class ServiceNotifications(ISystemdNotifier notifier)
{
    public ServiceNotifications() : this(new SystemdNotifier())
    {
    }

    public bool Enabled => notifier.IsEnabled;

    public void Ready(IReadOnlyDictionary<string, EndPoint> endpoints) =>
        Send($"READY=1\nSTATUS=relaying: {string.Join(", ", endpoints.OrderBy(e => e.Key).Select(e => $"{e.Key} {e.Value}"))}");

    public void Stopping() => Send("STOPPING=1\nSTATUS=stopping");

    /// <summary>The side did not start: <c>systemctl status</c> shows why next to the exit code.</summary>
    public void Failed(string reason) => Send($"STATUS={reason}");

    /// <summary>
    /// The watchdog interval systemd asks for (<c>WatchdogSec=</c> sets <c>WATCHDOG_USEC</c>, for this process
    /// when <c>WATCHDOG_PID</c> is unset or is this process), or null.
    /// </summary>
    public static TimeSpan? WatchdogInterval(Func<string, string?> environment, int processId)
    {
        if (!long.TryParse(environment("WATCHDOG_USEC"), out var microseconds) || microseconds <= 0) return null;
        if (environment("WATCHDOG_PID") is { Length: > 0 } pid && pid != processId.ToString()) return null;
        return TimeSpan.FromMicroseconds(microseconds);
    }

    /// <summary>
    /// Pings twice per <paramref name="interval"/> for as long as <paramref name="alive"/> says so within half
    /// an interval; a side whose actors stopped answering misses pings, and systemd restarts it.
    /// </summary>
    public async Task WatchdogAsync(TimeSpan interval, Func<TimeSpan, Task<bool>> alive, CancellationToken cancellation)
    {
        var period = interval / 2;
        using var timer = new PeriodicTimer(period);
        try
        {
            do
            {
                bool answered;
                try
                {
                    answered = await alive(period);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    answered = false;
                }
                if (answered) Send("WATCHDOG=1");
                else Log.Warning("Watchdog: the tunnel's actors did not answer within {Period}; systemd is not told that this side is alive", period);
            } while (await timer.WaitForNextTickAsync(cancellation));
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Send(string state)
    {
        if (!notifier.IsEnabled) return;
        try
        {
            notifier.Notify(new ServiceState(state));
        }
        catch (SocketException e)
        {
            Log.Warning("Cannot notify systemd ({Error})", e.Message);
        }
    }
}
