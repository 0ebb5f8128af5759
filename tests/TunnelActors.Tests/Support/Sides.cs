using System.Net;
using Serilog;
using Serilog.Events;

namespace TunnelActors.Tests.Support;

/// <summary>Starts tunnel sides on loopback from a few settings; everything else comes from reference.conf.</summary>
public static class Sides
{
    static Sides()
    {
        // TUNNELACTORS_TEST_LOG=FILE keeps every side's log at Debug for a failing run; otherwise warnings go to the console.
        var file = Environment.GetEnvironmentVariable("TUNNELACTORS_TEST_LOG");
        Log.Logger = file is null
            ? new LoggerConfiguration().MinimumLevel.Is(LogEventLevel.Warning).WriteTo.Console().CreateLogger()
            : new LoggerConfiguration().MinimumLevel.Debug().WriteTo.File(file).CreateLogger();
    }

    public static Task<TunnelSide> StartAsync(string name, params (string Key, string Value)[] settings) =>
        TunnelSide.StartAsync(name, Configure(settings));

    public static TunnelConfiguration Configure(params (string Key, string Value)[] settings) =>
        TunnelConfiguration.FromHocon("", settings.ToDictionary(s => s.Key, s => s.Value));

    public static string At(IPEndPoint endpoint) => endpoint.ToString();
}
