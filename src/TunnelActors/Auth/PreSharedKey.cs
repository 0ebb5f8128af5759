using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace TunnelActors.Auth;

/// <summary>
/// The 256-bit key both sides of an authenticated tunnel share, kept as 64 hexadecimal digits in a file only
/// its owner can read (<c>tunnel.auth.psk-file</c>; <c>tunnelactors keygen</c> writes one). The bytes never
/// leave this class: the handshake asks it for MACs.
/// </summary>
public sealed class PreSharedKey
{
    public const int Length = 32;

    private static readonly byte[] ByteOrderMark = [0xEF, 0xBB, 0xBF];

    private readonly byte[] _key;

    private PreSharedKey(byte[] key, uint? readableByGroup)
    {
        _key = key;
        ReadableByGroup = readableByGroup;
    }

    /// <summary>A group this side does not run as that the file lets read it, or null; the side warns at start.</summary>
    public uint? ReadableByGroup { get; }

    /// <summary>A new random key, as the line <c>keygen</c> prints.</summary>
    public static string Generate() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(Length));

    internal static PreSharedKey FromBytes(ReadOnlySpan<byte> key) =>
        key.Length == Length ? new PreSharedKey(key.ToArray(), null) : throw new ArgumentException($"a key is {Length} bytes", nameof(key));

    /// <summary>HMAC-SHA256 of <paramref name="message"/> under the key.</summary>
    internal byte[] Authenticate(ReadOnlySpan<byte> message) => HMACSHA256.HashData(_key, message);

    public static PreSharedKey Load(string key, string path)
    {
        var contents = KeyFile.Read(key, path, out var readableByGroup);
        try
        {
            return new PreSharedKey(Parse(key, path, contents), readableByGroup);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(contents);
        }
    }

    private static byte[] Parse(string key, string path, ReadOnlySpan<byte> contents)
    {
        if (contents.StartsWith(ByteOrderMark)) contents = contents[ByteOrderMark.Length..];
        var characters = new char[contents.Length];
        try
        {
            var text = characters.AsSpan(0, Encoding.ASCII.GetChars(contents, characters)).Trim();
            if (text.IsEmpty)
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
            return bytes;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(characters.AsSpan()));
        }
    }
}
