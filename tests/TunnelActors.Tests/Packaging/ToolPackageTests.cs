using TunnelActors.Tests.Support;
using Xunit;

namespace TunnelActors.Tests.Packaging;

/// <summary>The .NET tool package, installed as its users install it, into a tool path of the test's own.</summary>
[Collection(PackagesCollection.Name)]
public sealed class ToolPackageTests(BuiltPackages packages)
{
    private static readonly TimeSpan Wait = TimeSpan.FromMinutes(3);

    [BuildFact]
    public async Task Installs_with_dotnet_tool_install_and_runs_its_demo()
    {
        var tools = Directory.CreateTempSubdirectory("tunnelactors-tool-").FullName;
        try
        {
            await Command.SucceedAsync(Wait, "dotnet", "tool", "install", "--tool-path", tools, "TunnelActors", "--add-source", packages.Directory,
                "--version", packages.Version);
            var tunnelactors = Path.Combine(tools, "tunnelactors");
            Assert.True(File.Exists(tunnelactors), "the tool's command is tunnelactors");

            var demo = await Command.RunAsync(Wait, tunnelactors, ["demo"]);
            Assert.True(demo.ExitCode == 0, demo.Output);
            Assert.Contains("OK: every reply reached the peer that sent it", demo.Stdout);

            await Command.SucceedAsync(Wait, "dotnet", "tool", "uninstall", "--tool-path", tools, "TunnelActors");
            Assert.False(File.Exists(tunnelactors));
        }
        finally
        {
            Directory.Delete(tools, recursive: true);
        }
    }
}
