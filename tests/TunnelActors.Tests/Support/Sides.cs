using System.Net;
using Serilog;
using Serilog.Events;

namespace TunnelActors.Tests.Support;

/// <summary>Starts tunnel sides on loopback from a few settings; everything else comes from reference.conf.</summary>
public static class Sides
{
    static Sides()
    {
        Log.Logger = new LoggerConfiguration().MinimumLevel.Is(LogEventLevel.Warning).WriteTo.Console().CreateLogger();
    }

    public static Task<TunnelSide> StartAsync(string name, params (string Key, string Value)[] settings) =>
        TunnelSide.StartAsync(name, Configure(settings));

    public static TunnelConfiguration Configure(params (string Key, string Value)[] settings) =>
        TunnelConfiguration.FromHocon("", settings.ToDictionary(s => s.Key, s => s.Value));

    public static string At(IPEndPoint endpoint) => endpoint.ToString();
}
