using TunnelActors.Cli;

return await Commands.Build().Parse(args).InvokeAsync();
