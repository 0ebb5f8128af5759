using System.Security.Cryptography;
using TunnelActors.Configuration;

namespace TunnelActors.Auth;

/// <summary>
/// The 256-bit key both sides of an authenticated tunnel share, kept as 64 hexadecimal digits in a file only
/// its owner can read (<c>tunnel.auth.psk-file</c>; <c>tunnelactors keygen</c> writes one).
/// </summary>
public sealed class PreSharedKey
{
    public const int Length = 32;

    private PreSharedKey(byte[] key, bool readableByOthers)
    {
        Key = key;
        ReadableByOthers = readableByOthers;
    }

    public byte[] Key { get; }

    /// <summary>The file's mode lets its group or others read it; the side warns at start.</summary>
    public bool ReadableByOthers { get; }

    /// <summary>A new random key, as the line <c>keygen</c> prints.</summary>
    public static string Generate() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(Length));

    public static PreSharedKey Load(string key, string path)
    {
        string text;
        UnixFileMode mode;
        try
        {
            text = File.ReadAllText(path).Trim();
            mode = OperatingSystem.IsWindows() ? UnixFileMode.None : File.GetUnixFileMode(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ConfigurationException(key, $"cannot read the key file '{path}' ({e.Message})");
        }

        if (text.Length == 0)
            throw new ConfigurationException(key, $"'{path}' is empty: expected {2 * Length} hexadecimal digits (tunnelactors keygen)");
        byte[] bytes;
        try
        {
            bytes = Convert.FromHexString(text);
        }
        catch (FormatException)
        {
            throw new ConfigurationException(key, $"'{path}' does not hold a key: expected {2 * Length} hexadecimal digits (tunnelactors keygen)");
        }
        if (bytes.Length != Length)
            throw new ConfigurationException(key, $"'{path}' holds a {8 * bytes.Length}-bit key; a {8 * Length}-bit key is {2 * Length} hexadecimal digits (tunnelactors keygen)");

        const UnixFileMode othersRead = UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        return new PreSharedKey(bytes, (mode & othersRead) != 0);
    }
}
