using System.Net;
using System.Net.Sockets;
using Akka.Configuration;
using Akka.Configuration.Hocon;
using TunnelActors.Flow;

namespace TunnelActors.Configuration;

/// <summary>
/// Reads and validates the <c>tunnel</c> block. Every problem is a <see cref="ConfigurationException"/>
/// that names its key, raised before anything binds.
/// </summary>
public static class SettingsReader
{
    /// <summary>
    /// Validates <paramref name="user"/> (the file and flag layers, before the reference fallback) for
    /// unknown keys, then reads the merged configuration.
    /// </summary>
    public static TunnelSettings Read(Config user, Config reference)
    {
        RejectUnknownKeys(user, reference);
        return Read(user.WithFallback(reference));
    }

    public static TunnelSettings Read(Config config)
    {
        var udp = ReadUdp(config);
        var tcp = ReadTcp(config);
        var session = new SessionSettings(
            Duration(config, "tunnel.session.idle-timeout", allowZero: true),
            Size(config, "tunnel.session.queue-limit", min: 0),
            Duration(config, "tunnel.session.queue-max-delay", allowZero: true),
            Int(config, "tunnel.session.max-sessions", min: 1),
            Int(config, "tunnel.session.max-per-source", min: 1),
            Int(config, "tunnel.session.new-per-second", min: 1),
            Duration(config, "tunnel.session.unanswered-timeout", allowZero: true),
            Duration(config, "tunnel.session.reconnect-grace", allowZero: true));
        var rebind = Backoff(config, "tunnel.rebind");
        var startup = Duration(config, "tunnel.startup-timeout", allowZero: false);
        Size(config, "tunnel.mailbox.ingress.queue-limit", min: ByteBudget.DatagramOverhead);
        Size(config, "tunnel.mailbox.connection.queue-limit", min: ByteBudget.DatagramOverhead);
        var queueMemory = Size(config, "tunnel.queue-memory", min: LengthPrefixedFrameMax);
        Bool(config, "tunnel.log.redact-addresses");

        if (udp.ForwardBind is { } bind && bind.AddressFamily != udp.Endpoint.AddressFamily && !bind.Address.Equals(IPAddress.Any))
            throw new ConfigurationException("tunnel.udp.forward-bind", $"{bind} is not of the target's address family ({udp.Endpoint})");

        var auth = new AuthSettings(
            String(config, "tunnel.auth.psk-file") is { Length: > 0 } keyFile ? KeyFile.Load("tunnel.auth.psk-file", Path.GetFullPath(keyFile)) : null,
            Duration(config, "tunnel.auth.handshake-timeout", allowZero: false),
            Bool(config, "tunnel.auth.allow-unauthenticated"),
            Duration(config, "tunnel.auth.max-clock-skew", allowZero: false),
            Int(config, "tunnel.auth.replay-memory", min: 1));
        if (udp.Role == UdpRole.Listen && tcp.Role == TcpRole.Listen && auth.Key is null && tcp.Allow.IsEmpty && !auth.AllowUnauthenticated)
            throw new ConfigurationException("tunnel.auth.psk-file",
                "a side that listens on both UDP and TCP hands each new peer's traffic to whoever connects to it: " +
                "give it a key (--psk-file, made by tunnelactors keygen), a tcp.allow list (--tcp-allow), or --no-auth");

        var metrics = String(config, "tunnel.metrics.listen") is { Length: > 0 } metricsListen
            ? EndpointParser.Parse("tunnel.metrics.listen", metricsListen)
            : null;

        var executor = String(config, "tunnel.executor") switch
        {
            "inline" => ExecutorKind.Inline,
            "thread-pool" => ExecutorKind.ThreadPool,
            var other => throw new ConfigurationException("tunnel.executor", $"'{other}' is not inline or thread-pool"),
        };

        var webSocket = ReadWebSocket(config, tcp, auth);
        return new TunnelSettings(udp, tcp, session, rebind, startup, queueMemory, auth, metrics, executor, ReadTls(config, tcp), ReadProxy(config, tcp),
            webSocket, ReadFallback(config, tcp, auth, webSocket));
    }

    private static UdpTunnelSettings ReadUdp(Config config)
    {
        var (role, endpoint) = Role(config, "tunnel.udp", "listen", UdpRole.Listen, "forward", UdpRole.Forward);
        var bindText = String(config, "tunnel.udp.forward-bind");
        var bind = bindText.Length == 0 ? null : EndpointParser.Parse("tunnel.udp.forward-bind", bindText);
        if (bind is not null && role != UdpRole.Forward)
            throw new ConfigurationException("tunnel.udp.forward-bind", "is only used with tunnel.udp.forward");
        return new UdpTunnelSettings(role, endpoint, bind,
            Size(config, "tunnel.udp.receive-buffer", min: 0),
            Size(config, "tunnel.udp.send-buffer", min: 0),
            Allow(config, "tunnel.udp.allow"),
            String(config, "tunnel.udp.io") switch
            {
                "batched" => UdpIo.Batched,
                "akka" => UdpIo.Akka,
                var other => throw new ConfigurationException("tunnel.udp.io", $"'{other}' is not batched or akka"),
            },
            Int(config, "tunnel.udp.receive-batch", min: 1, max: 1024),
            Int(config, "tunnel.udp.receive-threads", min: 0, max: 256) is > 0 and var threads ? threads : Environment.ProcessorCount);
    }

    private static TcpTunnelSettings ReadTcp(Config config)
    {
        var (role, endpoint) = Role(config, "tunnel.tcp", "listen", TcpRole.Listen, "connect", TcpRole.Connect);
        EndPoint dialTarget = role == TcpRole.Connect
            ? EndpointParser.ParseDialTarget("tunnel.tcp.connect", Carrier(String(config, "tunnel.tcp.connect")).Address)
            : endpoint;
        var keepAlive = new KeepAliveSettings(
            Bool(config, "tunnel.tcp.keepalive.enabled"),
            Duration(config, "tunnel.tcp.keepalive.idle", allowZero: false),
            Duration(config, "tunnel.tcp.keepalive.interval", allowZero: false),
            Int(config, "tunnel.tcp.keepalive.count", min: 1));
        var maxWrite = Size(config, "tunnel.tcp.max-write", min: 1);
        var frameSize = config.GetByteSize("akka.io.tcp.maximum-frame-size") ?? 4096;
        if (maxWrite > frameSize)
            throw new ConfigurationException("tunnel.tcp.max-write", $"{maxWrite} bytes is more than akka.io.tcp.maximum-frame-size ({frameSize}), the most Akka.IO sends at once");
        return new TcpTunnelSettings(
            role,
            endpoint,
            dialTarget,
            Int(config, "tunnel.tcp.pool-size", min: 0),
            Int(config, "tunnel.tcp.listen-backlog", min: 1),
            Duration(config, "tunnel.tcp.connect-timeout", allowZero: false),
            Backoff(config, "tunnel.tcp.reconnect"),
            Size(config, "tunnel.tcp.send-queue-limit", min: LengthPrefixedFrameMax),
            Duration(config, "tunnel.tcp.max-queue-delay", allowZero: true),
            maxWrite,
            Size(config, "tunnel.tcp.send-buffer", min: 0),
            Size(config, "tunnel.tcp.receive-buffer", min: 0),
            Size(config, "tunnel.tcp.notsent-lowat", min: 0),
            Duration(config, "tunnel.tcp.close-timeout", allowZero: false),
            keepAlive,
            Allow(config, "tunnel.tcp.allow"),
            Duration(config, "tunnel.tcp.first-frame-timeout", allowZero: true),
            Int(config, "tunnel.tcp.max-connections", min: 1),
            Int(config, "tunnel.tcp.max-connections-per-source", min: 1),
            Int(config, "tunnel.tcp.new-connections-per-second", min: 1),
            Duration(config, "tunnel.tcp.user-timeout", allowZero: true),
            Int(config, "tunnel.tcp.pool-max", min: 0),
            Duration(config, "tunnel.tcp.pool-shrink-after", allowZero: false),
            Int(config, "tunnel.tcp.max-handshakes-per-source", min: 1));
    }

    /// <summary>What <c>tcp.connect</c> names: the address dialed, whether TLS wraps it, and the WebSocket path, if any.</summary>
    internal sealed record DialCarrier(bool Tls, string Address, string? WebSocketPath);

    /// <summary>
    /// <c>tcp.connect</c> as its carrier and address: <c>HOST:PORT</c> is plain TCP, <c>tls://HOST:PORT</c> TLS,
    /// <c>ws://HOST[:PORT]/PATH</c> and <c>wss://HOST[:PORT]/PATH</c> a WebSocket (ports 80 and 443 unless given).
    /// </summary>
    internal static DialCarrier Carrier(string connect)
    {
        const string key = "tunnel.tcp.connect";
        const string tls = "tls://";
        if (connect.StartsWith(tls, StringComparison.OrdinalIgnoreCase)) return new DialCarrier(true, connect[tls.Length..].TrimEnd('/'), null);
        var scheme = connect.IndexOf("://", StringComparison.Ordinal);
        if (scheme < 0) return new DialCarrier(false, connect, null);
        var name = connect[..scheme].ToLowerInvariant();
        if (name is not ("ws" or "wss"))
            throw new ConfigurationException(key, $"'{connect[..scheme]}://' is not a carrier this version has: HOST:PORT (plain TCP), tls://HOST:PORT, ws://HOST:PORT/PATH or wss://HOST:PORT/PATH");
        if (!Uri.TryCreate(connect, UriKind.Absolute, out var uri) || uri.Host.Length == 0 || uri.UserInfo.Length > 0 || uri.Fragment.Length > 0)
            throw new ConfigurationException(key, $"'{connect}' is not {name}://HOST:PORT/PATH");
        var host = uri.HostNameType == UriHostNameType.IPv6 ? $"[{uri.IdnHost}]" : uri.IdnHost;
        return new DialCarrier(name == "wss", $"{host}:{uri.Port}", uri.PathAndQuery);
    }

    private static HttpFallbackSettings? ReadFallback(Config config, TcpTunnelSettings tcp, AuthSettings auth, WebSocketSettings? webSocket)
    {
        const string key = "tunnel.http-fallback.address";
        var address = String(config, key);
        var max = Int(config, "tunnel.http-fallback.max-connections", min: 1);
        var idle = Duration(config, "tunnel.http-fallback.idle-timeout", allowZero: false);
        if (address.Length == 0) return null;
        if (tcp.Role != TcpRole.Listen) throw new ConfigurationException(key, "only a side that listens (tcp.listen) hands connections to a website");
        if (auth.Key is null && webSocket is null)
            throw new ConfigurationException(key, "without a key (auth.psk-file) or websocket.path every connection is a tunnel connection: there is none to hand to the website");
        return new HttpFallbackSettings(EndpointParser.ParseDialTarget(key, address), max, idle);
    }

    private static WebSocketSettings? ReadWebSocket(Config config, TcpTunnelSettings tcp, AuthSettings auth)
    {
        const string pathKey = "tunnel.websocket.path";
        var path = String(config, pathKey);
        var maxRequest = Size(config, "tunnel.websocket.max-request-bytes", min: 1024);
        var ping = Duration(config, "tunnel.websocket.ping-interval", allowZero: true);
        if (tcp.Role == TcpRole.Connect)
        {
            if (path.Length > 0) throw new ConfigurationException(pathKey, "a side that dials names the path in tcp.connect = ws://HOST:PORT/PATH");
            var carrier = Carrier(String(config, "tunnel.tcp.connect"));
            return carrier.WebSocketPath is { } dialPath ? new WebSocketSettings(dialPath, carrier.Address, maxRequest, ping, auth.Key is not null) : null;
        }
        if (path.Length == 0) return null;
        if (path[0] != '/' || path.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)) || path.Contains('#'))
            throw new ConfigurationException(pathKey, $"'{path}' is not a path such as /tunnel");
        return new WebSocketSettings(path, null, maxRequest, ping, auth.Key is not null);
    }

    /// <summary><c>http://[USER:PASSWORD@]HOST:PORT</c>; the password may be percent-encoded.</summary>
    private static HttpProxySettings? ReadProxy(Config config, TcpTunnelSettings tcp)
    {
        const string key = "tunnel.http-proxy";
        var text = String(config, key);
        if (text.Length == 0) return null;
        if (tcp.Role != TcpRole.Connect) throw new ConfigurationException(key, "only a side that dials (tcp.connect) goes through a proxy");
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme != "http" || uri.Host.Length == 0 || uri.IsDefaultPort && !text.Contains(":80", StringComparison.Ordinal)
            || uri.AbsolutePath is not ("/" or "") || uri.Query.Length > 0)
            throw new ConfigurationException(key, "not http://[USER:PASSWORD@]HOST:PORT");
        string? user = null, password = null;
        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':');
            if (colon < 0) throw new ConfigurationException(key, "a user without a password: write http://USER:PASSWORD@HOST:PORT");
            user = Uri.UnescapeDataString(uri.UserInfo[..colon]);
            password = Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
        }
        var host = uri.HostNameType == UriHostNameType.IPv6 ? $"[{uri.IdnHost}]" : uri.IdnHost;
        return new HttpProxySettings(EndpointParser.ParseDialTarget(key, $"{host}:{uri.Port}"), user, password);
    }

    private static TlsSettings? ReadTls(Config config, TcpTunnelSettings tcp)
    {
        var ca = String(config, "tunnel.tls.ca-file");
        var name = String(config, "tunnel.tls.server-name");
        var cert = String(config, "tunnel.tls.cert-file");
        var key = String(config, "tunnel.tls.key-file");
        if (tcp.Role == TcpRole.Connect)
        {
            if (cert.Length > 0) throw new ConfigurationException("tunnel.tls.cert-file", "only a side that listens (tcp.listen) serves a certificate");
            if (key.Length > 0) throw new ConfigurationException("tunnel.tls.key-file", "only a side that listens (tcp.listen) serves a certificate");
            var (tls, address, _) = Carrier(String(config, "tunnel.tcp.connect"));
            if (!tls)
            {
                if (ca.Length > 0) throw new ConfigurationException("tunnel.tls.ca-file", "tcp.connect is not tls:// or wss://: there is no certificate to check");
                if (name.Length > 0) throw new ConfigurationException("tunnel.tls.server-name", "tcp.connect is not tls:// or wss://: there is no certificate to check");
                return null;
            }
            var host = tcp.DialTarget switch
            {
                DnsEndPoint dns => dns.Host,
                IPEndPoint ip => ip.Address.ToString(),
                _ => address,
            };
            return new TlsSettings(name.Length > 0 ? name : host, ca.Length > 0 ? TlsFiles.LoadTrust("tunnel.tls.ca-file", ca) : null, null, null);
        }
        if (ca.Length > 0) throw new ConfigurationException("tunnel.tls.ca-file", "only a side that dials (tcp.connect = tls://HOST:PORT) checks a certificate");
        if (name.Length > 0) throw new ConfigurationException("tunnel.tls.server-name", "only a side that dials (tcp.connect = tls://HOST:PORT) sends a server name");
        if (cert.Length == 0 && key.Length == 0) return null;
        if (cert.Length == 0) throw new ConfigurationException("tunnel.tls.cert-file", "tls.key-file is set: give the certificate (PEM) too");
        if (key.Length == 0) throw new ConfigurationException("tunnel.tls.key-file", "tls.cert-file is set: give its private key (PEM) too");
        var (certFile, keyFile) = (Path.GetFullPath(cert), Path.GetFullPath(key));
        TlsFiles.LoadCertificate(certFile, keyFile).Dispose();
        return new TlsSettings(null, null, certFile, keyFile);
    }

    // The send queue must hold at least one largest frame, or large datagrams could never pass.
    private const int LengthPrefixedFrameMax = 2 + ushort.MaxValue;

    private static (TRole, IPEndPoint) Role<TRole>(Config config, string block, string firstKey, TRole first, string secondKey, TRole second)
    {
        var a = String(config, $"{block}.{firstKey}");
        var b = String(config, $"{block}.{secondKey}");
        return (a.Length, b.Length) switch
        {
            ( > 0, 0) => (first, EndpointParser.Parse($"{block}.{firstKey}", a)),
            (0, > 0) => (second, EndpointParser.Parse($"{block}.{secondKey}", block == "tunnel.tcp" ? Carrier(b).Address : b)),
            (0, 0) => throw new ConfigurationException(block, $"set one of {firstKey} or {secondKey}"),
            _ => throw new ConfigurationException(block, $"set only one of {firstKey} or {secondKey}, not both"),
        };
    }

    private static BackoffSettings Backoff(Config config, string block)
    {
        var min = Duration(config, $"{block}.min-backoff", allowZero: false);
        var max = Duration(config, $"{block}.max-backoff", allowZero: false);
        if (max < min)
            throw new ConfigurationException($"{block}.max-backoff", $"{max} is shorter than min-backoff {min}");
        var factor = Read(config, $"{block}.random-factor", (c, k) => c.GetDouble(k));
        if (factor < 0 || double.IsNaN(factor))
            throw new ConfigurationException($"{block}.random-factor", "must be 0 or more");
        return new BackoffSettings(min, max, factor, Int(config, $"{block}.max-retries", min: 0));
    }

    /// <summary>A list of CIDR networks, given as a HOCON list or as one comma-separated string.</summary>
    private static AllowList Allow(Config config, string key)
    {
        var entries = Read(config, key, (c, k) => c.GetValue(k) is { } value && value.IsArray()
            ? c.GetStringList(k).ToList()
            : (c.GetString(k, "") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList());
        var networks = new List<IPNetwork>();
        foreach (var entry in entries)
        {
            var text = entry.Contains('/') ? entry : $"{entry}/{(entry.Contains(':') ? 128 : 32)}";
            // .NET also reads "5" and "127.1" as IPv4 addresses; nobody writing an allow-list means those.
            var fourParts = text.Contains(':') || text.Split('/')[0].Split('.').Length == 4;
            if (!fourParts || !IPNetwork.TryParse(text, out var network))
                throw new ConfigurationException(key, $"'{entry}' is not an address or CIDR network (10.0.0.0/8, 2001:db8::/32)");
            // Peers on a dual-stack socket are matched as IPv4: so is a network written as IPv4-mapped IPv6.
            if (network.BaseAddress.IsIPv4MappedToIPv6 && network.PrefixLength >= 96)
                network = new IPNetwork(network.BaseAddress.MapToIPv4(), network.PrefixLength - 96);
            networks.Add(network);
        }
        return new AllowList(networks);
    }

    private static string String(Config config, string key) =>
        Read(config, key, (c, k) => c.GetString(k, "") ?? "");

    private static bool Bool(Config config, string key)
    {
        var text = String(config, key).ToLowerInvariant();
        return text switch
        {
            "on" or "true" or "yes" => true,
            "off" or "false" or "no" => false,
            _ => throw new ConfigurationException(key, $"'{text}' is not on/off"),
        };
    }

    private static int Int(Config config, string key, int min, int max = int.MaxValue)
    {
        var text = String(config, key);
        if (!long.TryParse(text, out var value))
            throw new ConfigurationException(key, $"'{text}' is not a whole number");
        if (value < min || value > max)
            throw new ConfigurationException(key, max == int.MaxValue ? $"{value} is out of range (at least {min})" : $"{value} is out of range ({min} to {max})");
        return (int)value;
    }

    private static int Size(Config config, string key, int min)
    {
        var text = String(config, key);
        long? bytes;
        try
        {
            bytes = config.GetByteSize(key);
        }
        catch (Exception)
        {
            bytes = null;
        }
        if (bytes is null || text.StartsWith('-'))
            throw new ConfigurationException(key, $"'{text}' is not a size (bytes, or e.g. 64k, 1 MiB)");
        if (bytes < min || bytes > int.MaxValue)
            throw new ConfigurationException(key, $"{bytes} bytes is out of range (at least {min})");
        return (int)bytes.Value;
    }

    private static TimeSpan Duration(Config config, string key, bool allowZero)
    {
        var text = String(config, key);
        if (text.StartsWith('-'))
            throw new ConfigurationException(key, $"'{text}' is negative");
        var value = Read(config, key, (c, k) => c.GetTimeSpan(k, null, allowInfinite: false));
        if (value < TimeSpan.Zero || (!allowZero && value == TimeSpan.Zero))
            throw new ConfigurationException(key, $"'{text}' must be {(allowZero ? "0 or more" : "more than 0")}");
        return value;
    }

    private static T Read<T>(Config config, string key, Func<Config, string, T> read)
    {
        try
        {
            return read(config, key);
        }
        catch (ConfigurationException)
        {
            throw;
        }
        catch (Exception e)
        {
            throw new ConfigurationException(key, $"cannot be read: {e.Message}");
        }
    }

    private static void RejectUnknownKeys(Config user, Config reference)
    {
        if (!user.HasPath("tunnel")) return;
        var known = new HashSet<string>(TunnelConfiguration.Leaves(reference.GetValue("tunnel"), "tunnel"));
        foreach (var key in TunnelConfiguration.Leaves(user.GetValue("tunnel"), "tunnel"))
        {
            if (!known.Contains(key))
                throw new ConfigurationException(key, "unknown setting (see hocon/reference.conf)");
        }
    }
}
