using System.Text;
using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace TunnelActors.Cli;

/// <summary>The merged <c>tunnel</c> block as HOCON that <c>run --config</c> reads back: what <c>check</c> prints.</summary>
internal static class EffectiveSettings
{
    public static string Render(Config config)
    {
        var text = new StringBuilder("tunnel {\n");
        Write(text, config.GetConfig("tunnel").Root.GetObject(), 1);
        return text.Append("}\n").ToString();
    }

    private static void Write(StringBuilder text, HoconObject block, int depth)
    {
        var indent = new string(' ', 2 * depth);
        foreach (var (key, value) in block.Items.OrderBy(i => i.Key, StringComparer.Ordinal))
        {
            if (value.IsObject())
            {
                text.Append(indent).Append(key).Append(" {\n");
                Write(text, value.GetObject(), depth + 1);
                text.Append(indent).Append("}\n");
            }
            else
            {
                var shown = value.IsArray()
                    ? "[" + string.Join(", ", value.GetArray().Select(v => Quote(v.GetString()))) + "]"
                    : value.IsEmpty ? "\"\"" : Quote(value.GetString());
                text.Append(indent).Append(key).Append(" = ").Append(shown).Append('\n');
            }
        }
    }

    private static string Quote(string? value) => "\"" + (value ?? "").Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
