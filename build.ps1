#!/usr/bin/env pwsh
# Build, test and publish TunnelActors.
#   dotnet tool restore; dotnet pwsh ./build.ps1 [build|test|publish|demo|all] [-Configuration Release] [-Output out]
param(
    [ValidateSet('build', 'test', 'publish', 'demo', 'all')]
    [string] $Target = 'all',
    [string] $Configuration = 'Release',
    [string] $Output = 'artifacts/publish'
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
