using TunnelActors.Cli;

// Socket completions run on .NET's socket event thread instead of taking another hop through the thread
// pool. Akka.IO's completion handlers only hand the event to an actor, which the relay's dispatcher then
// runs on that same thread (InlineExecutor); the benchmark's receive handlers are as short. .NET reads this
// once, when the first socket is created, so it is set before anything opens one; a value already in the
// environment wins.
const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
if (Environment.GetEnvironmentVariable(InlineCompletions) is null) Environment.SetEnvironmentVariable(InlineCompletions, "1");

// Pages become resident only where written: no transparent huge pages (see HugePages).
HugePages.DisableForThisProcess();

return await Commands.Build().Parse(args).InvokeAsync();
