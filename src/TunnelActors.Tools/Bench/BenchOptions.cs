using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Net;

namespace TunnelActors.Tools.Bench;

/// <summary>Option builders shared by the bench commands, with their values checked at parse time.</summary>
internal static class BenchOptions
{
    public static Option<IPEndPoint?> Endpoint(string name, string description, bool required = false, bool portOptional = false) =>
        new(name)
        {
            Description = description,
            HelpName = portOptional ? "ADDR[:PORT]" : "ADDR:PORT",
            Required = required,
            CustomParser = result =>
            {
                var endpoint = Endpoints.Parse(result.Tokens.Single().Value, portOptional, out var error);
                if (error is not null) result.AddError($"{name}: {error}");
                return endpoint;
            },
        };

    public static Option<int> Integer(string name, string description, int defaultValue, int min, int max, string helpName = "N")
    {
        var option = new Option<int>(name) { Description = description, DefaultValueFactory = _ => defaultValue, HelpName = helpName };
        option.Validators.Add(result => InRange(result, option, min, max));
        return option;
    }

    public static Option<double> Seconds(string name, string description, double defaultValue, bool zeroAllowed)
    {
        var option = new Option<double>(name) { Description = description, DefaultValueFactory = _ => defaultValue, HelpName = "S" };
        option.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<double>();
            if (value < 0 || (!zeroAllowed && value == 0) || double.IsNaN(value) || double.IsInfinity(value))
                result.AddError($"{name} must be {(zeroAllowed ? "0 or more" : "more than 0")}");
        });
        return option;
    }

    /// <summary>PPS, or "max" for the closed loop, parsed as 0.</summary>
    public static Option<double> Rate() => new("--rate")
    {
        Description = "open loop: datagrams per second over all peers; max: closed loop, each peer keeps --window outstanding [default: max]",
        HelpName = "PPS|max",
        CustomParser = result =>
        {
            var text = result.Tokens.Single().Value;
            if (text.Equals("max", StringComparison.OrdinalIgnoreCase)) return 0;
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) && rate > 0 && double.IsFinite(rate)) return rate;
            result.AddError($"--rate must be a positive number of datagrams per second or 'max', not '{text}'");
            return 0;
        },
    };

    private static void InRange(OptionResult result, Option<int> option, int min, int max)
    {
        var value = result.GetValueOrDefault<int>();
        if (value < min || value > max) result.AddError($"{option.Name} must be from {min} to {max}");
    }
}
