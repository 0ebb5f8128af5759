using TunnelActors.Tests.Support;
using Xunit;

namespace TunnelActors.Tests.Packaging;

/// <summary>
/// <c>build.ps1 package</c>, run once for the tests that install its output: the Debian package and the .NET
/// tool package, built from this checkout into a directory of the tests' own.
/// </summary>
public sealed class BuiltPackages : IAsyncLifetime
{
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(10);

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("tunnelactors-packages-").FullName;

    public string Version { get; private set; } = "";

    public string Deb => System.IO.Directory.GetFiles(Directory, "tunnelactors_*.deb").Single();

    /// <summary>The checkout these tests were built from: the nearest directory up that holds TunnelActors.sln.</summary>
    public static string Repository { get; } = FindRepository();

    /// <summary>Why the packages cannot be built here (not Debian), or null.</summary>
    public static string? CannotBuild { get; } = Command.Find("dpkg-deb") is null ? "building the Debian package needs dpkg-deb" : null;

    public async Task InitializeAsync()
    {
        if (CannotBuild is not null && Environment.GetEnvironmentVariable("CI") != "true") return;
        // PowerShell comes from the repository's tool manifest; restoring is a no-op once done.
        var restore = await Command.RunAsync(BuildTimeout, "dotnet", ["tool", "restore"], Repository);
        Assert.True(restore.ExitCode == 0, $"dotnet tool restore: {restore.Output}");
        var build = await Command.RunAsync(BuildTimeout, "dotnet", ["pwsh", "./build.ps1", "package", "-Output", Directory], Repository);
        Assert.True(build.ExitCode == 0, $"build.ps1 package exited {build.ExitCode}: {build.Output}");
        var nupkg = Path.GetFileName(System.IO.Directory.GetFiles(Directory, "TunnelActors.*.nupkg").Single());
        Version = nupkg["TunnelActors.".Length..^".nupkg".Length];
    }

    public Task DisposeAsync()
    {
        System.IO.Directory.Delete(Directory, recursive: true);
        return Task.CompletedTask;
    }

    private static string FindRepository()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "TunnelActors.sln"))) return directory.FullName;
        throw new InvalidOperationException($"no TunnelActors.sln above {AppContext.BaseDirectory}");
    }
}

[CollectionDefinition(Name)]
public sealed class PackagesCollection : ICollectionFixture<BuiltPackages>
{
    public const string Name = "Packages";
}

/// <summary>A fact that installs system packages: needs root, dpkg and apt. Skipped without them, except under CI, where it must run.</summary>
public sealed class PackageFactAttribute : FactAttribute
{
    public PackageFactAttribute()
    {
        var why = BuiltPackages.CannotBuild
                  ?? (Environment.UserName != "root" ? "installing a package needs root" : null)
                  ?? (Command.Find("apt-get") is null ? "installing the package needs apt-get" : null)
                  ?? (Command.Find("systemd-analyze") is null ? "checking the unit needs systemd-analyze (package systemd)" : null)
                  ?? (Command.Find("lintian") is null ? "checking the package needs lintian" : null);
        if (why is not null && Environment.GetEnvironmentVariable("CI") != "true") Skip = $"{why}; CI installs it and runs this test";
    }
}

/// <summary>A fact that needs the packages built (dpkg-deb): skipped without it, except under CI, where it must run.</summary>
public sealed class BuildFactAttribute : FactAttribute
{
    public BuildFactAttribute()
    {
        if (BuiltPackages.CannotBuild is { } why && Environment.GetEnvironmentVariable("CI") != "true") Skip = $"{why}; CI runs this test";
    }
}
