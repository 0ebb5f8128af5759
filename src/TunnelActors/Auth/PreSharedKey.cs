using System.Security.Cryptography;

namespace TunnelActors.Auth;

/// <summary>
/// The 256-bit key both sides of an authenticated tunnel share, kept as 64 hexadecimal digits in a file only
/// its owner can read (<c>tunnel.auth.psk-file</c>; <c>tunnelactors keygen</c> writes one). The bytes never
/// leave this class: the handshake asks it for MACs.
/// </summary>
public sealed class PreSharedKey
{
    public const int Length = 32;

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

    internal static PreSharedKey FromBytes(ReadOnlySpan<byte> key, uint? readableByGroup = null) =>
        key.Length == Length ? new PreSharedKey(key.ToArray(), readableByGroup) : throw new ArgumentException($"a key is {Length} bytes", nameof(key));

    /// <summary>HMAC-SHA256 of <paramref name="message"/> under the key.</summary>
    internal byte[] Authenticate(ReadOnlySpan<byte> message) => HMACSHA256.HashData(_key, message);
}
