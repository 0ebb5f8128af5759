using BenchmarkDotNet.Running;

namespace TunnelActors.Benchmarks;

// dotnet run -c Release --project tests/TunnelActors.Benchmarks -- --filter '*' [--job short]
public static class Program
{
    public static void Main(string[] args) =>
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
