using System.Net;
using Serilog;
using Serilog.Events;
using TunnelActors.Configuration;
using TunnelActors.Tools;

namespace TunnelActors.Tests.Support;

/// <summary>Starts tunnel sides on loopback from a few settings; everything else comes from reference.conf.</summary>
public static class Sides
{
    /// <summary>Every side's log (sessions, binds, warnings), kept for a failing run; .ci/run prints its tail.</summary>
    public static string LogFile { get; } = Path.Combine(AppContext.BaseDirectory, "sides.log");

    static Sides()
    {
        File.Delete(LogFile);
        Log.Logger = new LoggerConfiguration().MinimumLevel.Is(LogEventLevel.Information)
            .WriteTo.File(LogFile, outputTemplate: "{Timestamp:HH:mm:ss.fff} {Level:u3} {Message:lj}{NewLine}{Exception}")
            .CreateLogger();
    }

    /// <summary>Sockets a UDP-listen side binds on its port by default (<c>tunnel.udp.receive-threads = 0</c>: one per core).</summary>
    public static int ListenSockets => Environment.ProcessorCount;

    public static Task<TunnelSide> StartAsync(string name, params (string Key, string Value)[] settings) =>
        TunnelSide.StartAsync(name, Configure(settings));

    /// <summary>
    /// Plain RFC 4571 sides unless a test sets something under <c>tunnel.auth</c>: most tests are about the
    /// data path, and the NAT-box role would otherwise refuse to start without a key.
    /// </summary>
    public static TunnelConfiguration Configure(params (string Key, string Value)[] settings)
    {
        var all = settings.ToDictionary(s => s.Key, s => s.Value);
        if (!all.Keys.Any(key => key.StartsWith("tunnel.auth.", StringComparison.Ordinal)))
            all["tunnel.auth.allow-unauthenticated"] = "on";
        return TunnelConfiguration.FromHocon("", all);
    }

    public static string At(IPEndPoint endpoint) => endpoint.ToString();
}
