using System.Collections;
using System.Text.RegularExpressions;
using Akka.Configuration;

namespace TunnelActors.Configuration;

/// <summary>
/// Settings taken from environment variables, for containers and service units: <c>TUNNELACTORS_</c> and the
/// setting's path below <c>tunnel</c>, upper-cased, with dots and dashes as underscores
/// (<c>tunnel.udp.listen</c> is <c>TUNNELACTORS_UDP_LISTEN</c>). They override the file; flags override them.
/// </summary>
public static class EnvironmentOverrides
{
    public const string Prefix = "TUNNELACTORS_";

    /// <summary>
    /// What Kubernetes (a Service named <c>tunnelactors</c>) and Docker's container links put into the environment
    /// under the same prefix: <c>TUNNELACTORS_SERVICE_HOST</c>, <c>TUNNELACTORS_PORT_9999_TCP_ADDR</c>, <c>TUNNELACTORS_ENV_…</c>.
    /// </summary>
    private static readonly Regex ServiceLinks =
        new(@"^TUNNELACTORS_(SERVICE_HOST|SERVICE_PORT(_\w+)?|PORT(_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?|NAME|ENV_\w+)$", RegexOptions.CultureInvariant);

    /// <summary>Every variable and the setting it overrides: each leaf of the reference <c>tunnel</c> block but the mailbox types.</summary>
    public static IReadOnlyDictionary<string, string> Variables { get; } = Build(TunnelConfiguration.Reference);

    public static string NameOf(string key) =>
        Prefix + key["tunnel.".Length..].ToUpperInvariant().Replace('.', '_').Replace('-', '_');

    /// <summary>
    /// The settings the environment sets. A <c>TUNNELACTORS_</c> variable that names no setting is an error, not
    /// ignored, since it is a typo; only the service-link variables of container platforms are passed over.
    /// </summary>
    public static Dictionary<string, string> Read(IDictionary environment)
    {
        var overrides = new Dictionary<string, string>();
        foreach (DictionaryEntry entry in environment)
        {
            if (entry.Key is not string name || !name.StartsWith(Prefix, StringComparison.Ordinal) || IsServiceLink(name)) continue;
            if (!Variables.TryGetValue(name, out var key))
                throw new ConfigurationException(name, "unknown environment variable (each setting's variable is named next to it in hocon/reference.conf)");
            overrides[key] = entry.Value as string ?? "";
        }
        return overrides;
    }

    public static bool IsServiceLink(string name) => ServiceLinks.IsMatch(name);

    private static Dictionary<string, string> Build(Config reference)
    {
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var key in TunnelConfiguration.Leaves(reference.GetValue("tunnel"), "tunnel").Where(k => !k.EndsWith(".mailbox-type", StringComparison.Ordinal)))
        {
            if (IsServiceLink(NameOf(key)) || !variables.TryAdd(NameOf(key), key))
                throw new InvalidOperationException($"{key}'s variable {NameOf(key)} is taken (by another setting or a container platform)");
        }
        return variables;
    }
}
