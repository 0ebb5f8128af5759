using System.Reflection;
using System.Text;
using System.Text.Json;
using Akka.Configuration;

namespace TunnelActors;

/// <summary>
/// The layered configuration of one side: embedded <c>reference.conf</c>, then a HOCON file, then
/// command-line overrides. Validated as a whole before anything starts.
/// </summary>
public sealed record TunnelConfiguration(Config Config, TunnelSettings Settings)
{
    public static Config Reference { get; } = ConfigurationFactory.ParseString(Embedded("TunnelActors.reference.conf"));

    public static TunnelConfiguration Load(string? file, IReadOnlyDictionary<string, string>? overrides = null)
    {
        var user = file is null ? Config.Empty : ParseFile(file);
        return FromUser(user, overrides);
    }

    public static TunnelConfiguration FromHocon(string hocon, IReadOnlyDictionary<string, string>? overrides = null) =>
        FromUser(Parse("configuration", hocon), overrides);

    private static TunnelConfiguration FromUser(Config user, IReadOnlyDictionary<string, string>? overrides)
    {
        if (overrides is { Count: > 0 })
            user = Parse("command line", ToHocon(overrides)).WithFallback(user);
        var settings = SettingsReader.Read(user, Reference);
        return new TunnelConfiguration(user.WithFallback(Reference), settings);
    }

    private static Config ParseFile(string file)
    {
        string text;
        try
        {
            text = File.ReadAllText(Path.GetFullPath(file));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new ConfigurationException(file, $"cannot read the configuration file ({e.Message})");
        }
        return Parse(file, text);
    }

    /// <summary>How long the HOCON parser may take; Akka's parser loops forever on some malformed input.</summary>
    private static readonly TimeSpan ParseTimeout = TimeSpan.FromSeconds(5);

    private static Config Parse(string source, string hocon)
    {
        var parsing = Task.Run(() => ConfigurationFactory.ParseString(hocon));
        try
        {
            if (!parsing.Wait(ParseTimeout))
                throw new ConfigurationException(source, "malformed HOCON: the parser did not finish (an unclosed bracket or brace?)");
            return parsing.Result;
        }
        catch (AggregateException e)
        {
            var firstLine = e.InnerException!.Message.Split('\n', 2)[0].Trim();
            throw new ConfigurationException(source, $"malformed HOCON: {firstLine}");
        }
    }

    private static string ToHocon(IReadOnlyDictionary<string, string> overrides)
    {
        var text = new StringBuilder();
        foreach (var (key, value) in overrides)
            text.Append(key).Append(" = ").AppendLine(JsonSerializer.Serialize(value));
        return text.ToString();
    }

    private static string Embedded(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
                           ?? throw new InvalidOperationException($"resource {name} is missing from the build");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
