using System.Runtime.Versioning;

// Network namespaces, /proc and ip(8): the soak is Linux-only.
[assembly: SupportedOSPlatform("linux")]
