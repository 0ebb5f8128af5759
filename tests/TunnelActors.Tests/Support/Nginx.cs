using System.Diagnostics;
using System.Net;

namespace TunnelActors.Tests.Support;

/// <summary>
/// Debian's nginx, started for one test on a loopback port (one process, no daemon), serving a static page at <c>/</c>:
/// either in front of a tunnel side (it terminates TLS with the given certificate and proxies <c>location</c> to the
/// side's WebSocket listener, with the site block <c>docs/operations.md</c> gives), or as the plain HTTP website a side
/// hands strangers to (its access log kept). Stopped by its PID when disposed.
/// </summary>
public sealed class Nginx : IDisposable
{
    public const string Program = "/usr/sbin/nginx";
    public const string Page = "<!doctype html><title>a website</title><p>Nothing to see here.</p>\n";
    private readonly Process _process;
    private readonly string _directory;

    private Nginx(Func<int, string, string> server, int port)
    {
        _directory = Directory.CreateTempSubdirectory("tunnelactors-nginx-").FullName;
        var www = Directory.CreateDirectory(Path.Combine(_directory, "www")).FullName;
        File.WriteAllText(Path.Combine(www, "index.html"), Page);
        Port = port > 0 ? port : LocalServer.FreePort();
        var config = Path.Combine(_directory, "nginx.conf");
        File.WriteAllText(config, $$"""
            daemon off;
            master_process off;
            error_log {{_directory}}/error.log warn;
            pid {{_directory}}/nginx.pid;
            events { worker_connections 1024; }
            http {
                access_log {{_directory}}/access.log;
                client_body_temp_path {{_directory}}/client-body;
                proxy_temp_path {{_directory}}/proxy;
                fastcgi_temp_path {{_directory}}/fastcgi;
                uwsgi_temp_path {{_directory}}/uwsgi;
                scgi_temp_path {{_directory}}/scgi;

                map $http_upgrade $connection_upgrade {
                    default upgrade;
                    ''      close;
                }

                {{server(Port, www)}}
            }
            """);
        _process = Process.Start(new ProcessStartInfo(Program, ["-p", _directory, "-c", config]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        _process.ErrorDataReceived += (_, _) => { };
        _process.OutputDataReceived += (_, _) => { };
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
    }

    public int Port { get; }

    /// <summary>Whether this machine has nginx; under CI it must.</summary>
    public static bool Available => File.Exists(Program);

    /// <summary>In front of a side: TLS, the page at <c>/</c>, <paramref name="location"/> proxied to <paramref name="upstream"/>; on <paramref name="port"/> when given (a restart).</summary>
    public static Task<Nginx> StartAsync(string cert, string key, string location, IPEndPoint upstream, int port = 0) =>
        StartAsync(port, (port, www) => $$"""
                server {
                    listen 127.0.0.1:{{port}} ssl;
                    server_name localhost;
                    ssl_certificate     {{cert}};
                    ssl_certificate_key {{key}};
                    root {{www}};

                    location {{location}} {
                        proxy_pass http://{{upstream}};
                        proxy_http_version 1.1;
                        proxy_set_header Upgrade $http_upgrade;
                        proxy_set_header Connection $connection_upgrade;
                        proxy_set_header Host $host;
                        proxy_read_timeout 1h;
                        proxy_send_timeout 1h;
                        proxy_buffering off;
                    }
                }
            """);

    /// <summary>A plain HTTP website: the page at <c>/</c>, nginx's own 404 for any other path.</summary>
    public static Task<Nginx> StartSiteAsync() =>
        StartAsync(0, (port, www) => $$"""
                server {
                    listen 127.0.0.1:{{port}};
                    root {{www}};
                }
            """);

    public IPEndPoint Endpoint => new(IPAddress.Loopback, Port);

    /// <summary>The requests it has served, one line each (nginx writes each when it is done).</summary>
    public string AccessLog => File.Exists(Path.Combine(_directory, "access.log")) ? File.ReadAllText(Path.Combine(_directory, "access.log")) : "";

    private static async Task<Nginx> StartAsync(int port, Func<int, string, string> server)
    {
        var nginx = new Nginx(server, port);
        if (await LocalServer.ListeningAsync(nginx.Port, nginx._process)) return nginx;
        var log = nginx.Log;
        nginx.Dispose();
        throw new InvalidOperationException($"nginx did not start: {log}");
    }

    public string Log => File.Exists(Path.Combine(_directory, "error.log")) ? File.ReadAllText(Path.Combine(_directory, "error.log")) : "(no error.log)";

    public void Dispose() => LocalServer.Stop(_process, _directory);
}

/// <summary>A fact that needs Debian's nginx: skipped without it, except under CI, where it must run.</summary>
public sealed class NginxFactAttribute : Xunit.FactAttribute
{
    public NginxFactAttribute()
    {
        if (!Nginx.Available && Environment.GetEnvironmentVariable("CI") != "true")
            Skip = "needs Debian's nginx (apt-get install nginx); CI installs it";
    }
}
