using System.Runtime.Versioning;

// The matrix reads Linux's /proc for CPU time, memory and socket states.
[assembly: SupportedOSPlatform("linux")]
