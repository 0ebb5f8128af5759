#!/usr/bin/env pwsh
# Build, test and publish TunnelActors; measure it side by side with other relays.
#   dotnet tool restore; dotnet pwsh ./build.ps1 [build|test|publish|demo|bench|all] [-Configuration Release] [-Output out]
#   dotnet pwsh ./build.ps1 bench [-Duration 5] [-Warmup 1] [-Reps 3] [-Peers 1,100,1000] [-Sizes 64,1200,8192]
#       [-Rates max,10000] [-Paths direct,ta-mullvad,ta-seed,udptunnel,c-relay] [-CRelay path/to/udpbench]
#   bench writes docs/benchmarks.md and its charts; raw results and process logs go to artifacts/bench/.
#   dotnet pwsh ./build.ps1 soak [-Minutes 15] [-FaultEvery 60]     (root: it makes a network namespace)
#   soak writes docs/reliability.md and its chart; process logs go to artifacts/soak/.
param(
    [ValidateSet('build', 'test', 'publish', 'demo', 'bench', 'soak', 'all')]
    [string] $Target = 'all',
    [string] $Configuration = 'Release',
    [string] $Output = 'artifacts/publish',
    [double] $Duration = 5,
    [double] $Warmup = 1,
    [int] $Reps = 3,
    [string[]] $Peers = @('1', '100', '1000'),
    [string[]] $Sizes = @('64', '1200', '8192'),
    [string[]] $Rates = @('max', '10000'),
    [string[]] $Paths = @('direct', 'ta-mullvad', 'ta-seed', 'udptunnel', 'c-relay'),
    [string] $CRelay = '',
    [double] $Minutes = 15,
    [int] $FaultEvery = 60
)

$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot

function Invoke-Dotnet {
    & dotnet @args
    if ($LASTEXITCODE -ne 0) { throw "dotnet $($args -join ' ') failed with exit code $LASTEXITCODE" }
}

if ($Target -in 'build', 'all') { Invoke-Dotnet build TunnelActors.sln -c $Configuration }
if ($Target -in 'test', 'all') { Invoke-Dotnet test TunnelActors.sln -c $Configuration }
if ($Target -in 'publish', 'all') {
    Invoke-Dotnet publish src/TunnelActors.Cli -c $Configuration -o $Output
    Write-Host "Published: dotnet $Output/tunnelactors.dll"
}
if ($Target -eq 'demo') { Invoke-Dotnet run --project src/TunnelActors.Cli -c $Configuration -- demo }
if ($Target -eq 'bench') {
    # `pwsh -File` hands "1,100" over as one string (which [int[]] would read as 1100): split lists here.
    $Peers, $Sizes, $Rates, $Paths = @($Peers, $Sizes, $Rates, $Paths) | ForEach-Object { , @($_ -split ',' | Where-Object { $_ }) }
    # Always Release: a benchmark of a Debug build measures the JIT's debug code.
    $published = 'artifacts/bench/tunnelactors'
    Invoke-Dotnet publish src/TunnelActors.Cli -c Release -o $published
    $shown = "dotnet tool restore; dotnet pwsh ./build.ps1 bench -Duration $Duration -Warmup $Warmup -Reps $Reps " +
        "-Peers $($Peers -join ',') -Sizes $($Sizes -join ',') -Rates $($Rates -join ',') -Paths $($Paths -join ',')" +
        $(if ($CRelay) { " -CRelay $CRelay" } else { '' })
    $matrix = @(
        '--tunnelactors', "$published/tunnelactors.dll", '--duration', $Duration, '--warmup', $Warmup, '--reps', $Reps,
        '--peers', ($Peers -join ','), '--sizes', ($Sizes -join ','), '--rates', ($Rates -join ','), '--paths', ($Paths -join ','),
        '--report', 'docs/benchmarks.md', '--results', 'artifacts/bench', '--reproduce', $shown
    )
    if ($CRelay) { $matrix += @('--c-relay', $CRelay) }
    Invoke-Dotnet run --project tests/TunnelActors.BenchMatrix -c Release -- @matrix
}
if ($Target -eq 'soak') {
    $published = 'artifacts/soak/tunnelactors'
    Invoke-Dotnet publish src/TunnelActors.Cli -c Release -o $published
    Invoke-Dotnet run --project tests/TunnelActors.Soak -c Release -- --tunnelactors "$published/tunnelactors.dll" `
        --minutes $Minutes --fault-every $FaultEvery --report docs/reliability.md --results artifacts/soak `
        --reproduce "dotnet tool restore; dotnet pwsh ./build.ps1 soak -Minutes $Minutes -FaultEvery $FaultEvery"
}
