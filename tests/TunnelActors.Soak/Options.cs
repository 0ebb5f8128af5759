using System.Globalization;

namespace TunnelActors.Soak;

/// <summary>The soak's settings, from <c>--name value</c> pairs; a bad one stops it with one line naming it.</summary>
internal sealed record Options(
    string TunnelActors, double Minutes, int FaultEvery, int Interval, int Peers, int Rate, TimeSpan Recovery,
    string Report, string Results, string Reproduce)
{
    public static Options Parse(string[] args)
    {
        var values = new Dictionary<string, string>();
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal)) Stop($"unexpected '{args[i]}'");
            values[args[i][2..]] = args[i + 1];
        }
        string Text(string name, string? fallback = null) =>
            values.GetValueOrDefault(name) ?? fallback ?? Stop<string>($"--{name} is required");
        double Number(string name, double fallback, double min) =>
            values.TryGetValue(name, out var text)
                ? double.TryParse(text, CultureInfo.InvariantCulture, out var value) && value >= min ? value : Stop<double>($"--{name} must be a number of at least {min}")
                : fallback;
        var dll = Text("tunnelactors");
        if (!File.Exists(dll)) Stop($"--tunnelactors: no such file {dll}");
        return new Options(dll, Number("minutes", 15, 1), (int)Number("fault-every", 60, 20), (int)Number("interval", 30, 5),
            (int)Number("peers", 50, 1), (int)Number("rate", 20, 1), TimeSpan.FromSeconds(Number("recovery", 15, 1)),
            Text("report", "docs/reliability.md"), Text("results", "artifacts/soak"), Text("reproduce", "dotnet pwsh ./build.ps1 soak"));
    }

    private static void Stop(string why) => Stop<int>(why);

    private static T Stop<T>(string why)
    {
        Console.Error.WriteLine($"soak: {why}");
        Environment.Exit(2);
        return default!;
    }
}
