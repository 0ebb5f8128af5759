namespace TunnelActors.Tests.Support;

/// <summary>A fact that needs root (to give a file to another user, or run the program as one): skipped without it, except under CI, where it must run.</summary>
public sealed class RootFactAttribute : Xunit.FactAttribute
{
    public RootFactAttribute()
    {
        if (Environment.UserName != "root" && Environment.GetEnvironmentVariable("CI") != "true")
            Skip = "giving a file to another user needs root; CI runs this test as root";
    }
}
