namespace TunnelActors.Configuration;

/// <summary>A configuration problem, reported as one line that names the key.</summary>
public sealed class ConfigurationException(string key, string problem)
    : Exception($"{key}: {problem}")
{
    public string Key { get; } = key;
}
