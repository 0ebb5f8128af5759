using System.Reflection;
using System.Text;
using System.Text.Json;
using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace TunnelActors.Configuration;

/// <summary>
/// The layered configuration of one side: embedded <c>reference.conf</c>, then a HOCON file, then
/// <c>TUNNELACTORS_*</c> environment variables (<see cref="EnvironmentOverrides"/>), then command-line flags.
/// Validated as a whole before anything starts.
/// </summary>
public sealed record TunnelConfiguration(Config Config, TunnelSettings Settings)
{
    public static Config Reference { get; } = ConfigurationFactory.ParseString(Embedded("TunnelActors.reference.conf"));

    /// <summary>Each transport's two roles: a layer that names one of them replaces the layer below's choice, so it clears the other.</summary>
    private static readonly (string, string)[] RolePairs = [("tunnel.udp.listen", "tunnel.udp.forward"), ("tunnel.tcp.listen", "tunnel.tcp.connect")];

    public static TunnelConfiguration Load(string? file, IReadOnlyDictionary<string, string>? flags = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var user = file is null ? Config.Empty : ParseFile(file);
        return FromUser(user, flags, environment);
    }

    public static TunnelConfiguration FromHocon(string hocon, IReadOnlyDictionary<string, string>? flags = null) =>
        FromUser(Parse("configuration", hocon), flags, null);

    private static TunnelConfiguration FromUser(Config user, IReadOnlyDictionary<string, string>? flags,
        IReadOnlyDictionary<string, string>? environment)
    {
        user = Layer(user, "environment", environment);
        user = Layer(user, "command line", flags);
        try
        {
            var settings = SettingsReader.Read(user, Reference);
            return new TunnelConfiguration(Executor(settings.Executor).WithFallback(user).WithFallback(Reference), settings);
        }
        catch (ConfigurationException e) when (environment?.ContainsKey(e.Key) == true && flags?.ContainsKey(e.Key) != true)
        {
            // Say where the value came from: the file does not have it.
            throw new ConfigurationException($"{e.Key} (from {EnvironmentOverrides.NameOf(e.Key)})", e.Message[(e.Key.Length + 2)..]);
        }
    }

    /// <summary>The dispatcher every actor of the side runs on, as <c>tunnel.executor</c> says.</summary>
    private static Config Executor(ExecutorKind kind) => ConfigurationFactory.ParseString(kind switch
    {
        ExecutorKind.Inline => "akka.actor.default-dispatcher.executor = \"TunnelActors.Transport.InlineExecutorConfigurator, TunnelActors.Core\"",
        _ => "akka.actor.default-dispatcher.executor = default-executor",
    });

    private static Config Layer(Config below, string source, IReadOnlyDictionary<string, string>? overrides)
    {
        if (overrides is not { Count: > 0 }) return below;
        var values = new Dictionary<string, string>(overrides);
        foreach (var (first, second) in RolePairs)
        {
            if (values.ContainsKey(first) && !values.ContainsKey(second)) values[second] = "";
            if (values.ContainsKey(second) && !values.ContainsKey(first)) values[first] = "";
        }
        return Parse(source, ToHocon(values)).WithFallback(below);
    }

    /// <summary>The paths of a HOCON block's leaves (<c>tunnel.udp.listen</c>, …).</summary>
    internal static IEnumerable<string> Leaves(HoconValue value, string path)
    {
        if (!value.IsObject())
        {
            yield return path;
            yield break;
        }
        foreach (var (name, child) in value.GetObject().Items)
        foreach (var leaf in Leaves(child, $"{path}.{name}"))
            yield return leaf;
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
