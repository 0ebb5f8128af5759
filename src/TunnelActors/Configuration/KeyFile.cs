using System.Security.Cryptography;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using TunnelActors.Auth;

namespace TunnelActors.Configuration;

/// <summary>
/// Reads a key file as OpenSSH reads a private key. The file is opened once, and what was opened (a link's
/// target) is checked before a byte is read: a regular file owned by the user this runs as or by root, that
/// nobody else can change and not every user can read, of at most 4 KiB. Elsewhere than on Linux only the
/// mode and the size are checked (Windows: the size).
/// </summary>
internal static class KeyFile
{
    public const int MaxLength = 4096;

    private static readonly byte[] ByteOrderMark = [0xEF, 0xBB, 0xBF];

    /// <summary>The key in the file at <paramref name="path"/>; a <see cref="ConfigurationException"/> naming <paramref name="key"/> when it cannot be trusted or read.</summary>
    public static PreSharedKey Load(string key, string path)
    {
        var contents = Read(key, path, out var readableByGroup);
        try
        {
            var bytes = Parse(key, path, contents);
            try
            {
                return PreSharedKey.FromBytes(bytes, readableByGroup);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(bytes);
            }
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
                throw new ConfigurationException(key, $"'{path}' is empty: expected {2 * PreSharedKey.Length} hexadecimal digits (tunnelactors keygen)");
            byte[] bytes;
            try
            {
                bytes = Convert.FromHexString(text);
            }
            catch (FormatException)
            {
                throw new ConfigurationException(key, $"'{path}' does not hold a key: expected {2 * PreSharedKey.Length} hexadecimal digits (tunnelactors keygen)");
            }
            if (bytes.Length != PreSharedKey.Length)
                throw new ConfigurationException(key, $"'{path}' holds a {8 * bytes.Length}-bit key; a {8 * PreSharedKey.Length}-bit key is {2 * PreSharedKey.Length} hexadecimal digits (tunnelactors keygen)");
            return bytes;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(characters.AsSpan()));
        }
    }


    /// <param name="readableByGroup">The file's group when it may read the file and this process does not run as it.</param>
    private static byte[] Read(string setting, string path, out uint? readableByGroup)
    {
        using var file = Open(setting, path);
        readableByGroup = OperatingSystem.IsWindows() ? null : Check(setting, path, file);
        var buffer = new byte[MaxLength + 1];
        try
        {
            var length = 0;
            int read;
            while (length < buffer.Length && (read = RandomAccess.Read(file, buffer.AsSpan(length), length)) > 0) length += read;
            if (length > MaxLength) throw TooLarge(setting, path, null);
            return buffer[..length];
        }
        catch (IOException e)
        {
            throw CannotRead(setting, path, e.Message);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(buffer);
        }
    }

    private static SafeFileHandle Open(string setting, string path)
    {
        try
        {
            return OperatingSystem.IsLinux() ? UnixFile.OpenForReading(path) : File.OpenHandle(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw CannotRead(setting, path, e.Message);
        }
    }

    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static uint? Check(string setting, string path, SafeFileHandle file)
    {
        uint? group = null;
        if (OperatingSystem.IsLinux())
        {
            UnixFile.Status status;
            try
            {
                status = UnixFile.StatusOf(file);
            }
            catch (IOException e)
            {
                throw CannotRead(setting, path, e.Message);
            }
            if (!status.IsRegularFile)
                throw new ConfigurationException(setting, $"'{path}' is not a regular file: a key file holds {2 * PreSharedKey.Length} hexadecimal digits (tunnelactors keygen)");
            var user = UnixFile.EffectiveUser;
            if (status.Owner != user && status.Owner != 0)
                throw new ConfigurationException(setting, $"'{path}' is owned by uid {status.Owner}, not by root or uid {user} that this runs as: " +
                                                          $"chown it to the user that runs the side, or run this as uid {status.Owner}");
            if (status.Size > MaxLength) throw TooLarge(setting, path, status.Size);
            if (status.Group != UnixFile.EffectiveGroup) group = status.Group;
        }

        var mode = File.GetUnixFileMode(file);
        if ((mode & (UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0)
            throw new ConfigurationException(setting, $"'{path}' can be changed by users other than its owner ({Describe(mode)}): chmod 600 it");
        if ((mode & UnixFileMode.OtherRead) != 0)
            throw new ConfigurationException(setting, $"'{path}' can be read by every user ({Describe(mode)}): chmod 600 it");
        // Not refused: root:tunnelactors 0640 gives the service's group the key while only root can change it.
        return (mode & UnixFileMode.GroupRead) != 0 ? group : null;
    }

    private static string Describe(UnixFileMode mode) => "mode " + Convert.ToString((int)mode, 8).PadLeft(4, '0');

    private static ConfigurationException TooLarge(string setting, string path, long? size) =>
        new(setting, $"'{path}' is larger than 4 KiB{(size is { } bytes ? $" ({bytes} bytes)" : "")}: a key file holds " +
                     $"{2 * PreSharedKey.Length} hexadecimal digits (tunnelactors keygen)");

    private static ConfigurationException CannotRead(string setting, string path, string reason) =>
        new(setting, $"cannot read the key file '{path}' ({reason})");
}
