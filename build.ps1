#!/usr/bin/env pwsh
# Build, test and publish TunnelActors; measure it side by side with other relays.
#   dotnet tool restore; dotnet pwsh ./build.ps1 [build|test|publish|demo|bench|all] [-Configuration Release] [-Output out]
#   dotnet pwsh ./build.ps1 package [-Runtime linux-x64|linux-arm64] [-Output artifacts/packages]
#       writes tunnelactors_VERSION_ARCH.deb (self-contained; needs dpkg-deb) and the .NET tool package TunnelActors.VERSION.nupkg
#   dotnet pwsh ./build.ps1 bench [-Duration 5] [-Warmup 1] [-Reps 3] [-Peers 1,100,1000] [-Sizes 64,1200,8192]
#       [-Rates max,10000] [-Paths direct,ta-mullvad,ta-seed,udptunnel,c-relay] [-CRelay path/to/udpbench]
#   bench writes docs/benchmarks.md and its charts; raw results and process logs go to artifacts/bench/.
#   dotnet pwsh ./build.ps1 soak [-Minutes 15] [-FaultEvery 60]     (root: it makes a network namespace)
#   soak writes docs/reliability.md and its chart; process logs go to artifacts/soak/.
param(
    [ValidateSet('build', 'test', 'publish', 'package', 'demo', 'bench', 'soak', 'all')]
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
    [ValidateSet('linux-x64', 'linux-arm64')]
    [string] $Runtime = 'linux-x64',
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
if ($Target -eq 'package') {
    $packages = if ($PSBoundParameters.ContainsKey('Output')) { $Output } else { 'artifacts/packages' }
    New-Item -ItemType Directory -Force $packages | Out-Null
    # The .NET tool package: framework-dependent, it runs on the runtime of the SDK that installs it.
    Invoke-Dotnet pack src/TunnelActors.Cli -c Release -o $packages
    $version = (& dotnet msbuild src/TunnelActors.Cli -getProperty:Version).Trim()
    # The Debian package: self-contained, because Debian has no .NET runtime package to depend on.
    $arch = @{ 'linux-x64' = 'amd64'; 'linux-arm64' = 'arm64' }[$Runtime]
    $root = "artifacts/deb/$arch"
    if (Test-Path $root) { Remove-Item -Recurse -Force $root }
    Invoke-Dotnet publish src/TunnelActors.Cli -c Release -r $Runtime --self-contained -o "$root/usr/lib/tunnelactors"
    $layout = @{
        'src/Packaging/tunnelactors@.service'  = 'usr/lib/systemd/system/'
        'src/Packaging/restart-backoff.conf'   = 'usr/share/tunnelactors/'
        'src/Packaging/low-port.conf'          = 'usr/share/doc/tunnelactors/examples/'
        'hocon/seed-nat.hocon'                 = 'etc/tunnelactors/'
        'hocon/seed-relay.hocon'               = 'etc/tunnelactors/'
        'hocon/server.hocon'                   = 'etc/tunnelactors/'
        'hocon/client.hocon'                   = 'etc/tunnelactors/'
        'hocon/reference.conf'                 = 'usr/share/doc/tunnelactors/'
        'README.md'                            = 'usr/share/doc/tunnelactors/'
        'docs/operations.md'                   = 'usr/share/doc/tunnelactors/'
        'docs/security.md'                     = 'usr/share/doc/tunnelactors/'
        'src/Packaging/debian/copyright'       = 'usr/share/doc/tunnelactors/'
        'src/Packaging/debian/postinst'        = 'DEBIAN/'
        'src/Packaging/debian/prerm'           = 'DEBIAN/'
        'src/Packaging/debian/postrm'          = 'DEBIAN/'
        'src/Packaging/debian/triggers'        = 'DEBIAN/'
    }
    foreach ($file in $layout.Keys) {
        New-Item -ItemType Directory -Force "$root/$($layout[$file])" | Out-Null
        Copy-Item $file "$root/$($layout[$file])"
    }
    New-Item -ItemType Directory -Force "$root/usr/bin", "$root/usr/share/man/man1" | Out-Null
    New-Item -ItemType SymbolicLink -Path "$root/usr/bin/tunnelactors" -Target '../lib/tunnelactors/tunnelactors' | Out-Null
    # The man page comes from the commands' own --help texts (the framework-dependent build runs anywhere).
    & dotnet "src/TunnelActors.Cli/bin/Release/net10.0/tunnelactors.dll" man > "$root/usr/share/man/man1/tunnelactors.1"
    if ($LASTEXITCODE -ne 0) { throw 'tunnelactors man failed' }
    & gzip -9n "$root/usr/share/man/man1/tunnelactors.1"
    New-Item -ItemType Directory -Force "$root/usr/share/lintian/overrides" | Out-Null
    Copy-Item src/Packaging/debian/lintian-overrides "$root/usr/share/lintian/overrides/tunnelactors"
    # A native package's changelog: this version, dated by the commit it was built from.
    $date = (& git log -1 --format=%cD).Trim()
    Set-Content "$root/usr/share/doc/tunnelactors/changelog" @"
tunnelactors ($version) unstable; urgency=medium

  * Built from commit $((& git rev-parse --short HEAD).Trim()).

 -- TunnelActors developers <tunnelactors@example.org>  $date
"@
    & gzip -9n "$root/usr/share/doc/tunnelactors/changelog"
    # Everything in /etc is a conffile: dpkg keeps an edited one on upgrade and removes them on purge.
    $conffiles = Get-ChildItem "$root/etc/tunnelactors" | ForEach-Object { "/etc/tunnelactors/$($_.Name)" }
    Set-Content "$root/DEBIAN/conffiles" ($conffiles -join "`n")
    $installedKiB = [long]((Get-ChildItem -Recurse -File $root | Measure-Object Length -Sum).Sum / 1024)
    Set-Content "$root/DEBIAN/control" @"
Package: tunnelactors
Version: $version
Architecture: $arch
Maintainer: TunnelActors developers <tunnelactors@example.org>
Installed-Size: $installedKiB
Depends: libc6 (>= 2.27), libgcc-s1, libstdc++6, libssl3 | libssl3t64 | libssl1.1, adduser
Section: net
Priority: optional
Description: bidirectional UDP-over-TCP relay
 TunnelActors carries UDP datagrams (an IPv6-in-UDP tunnel, WireGuard, VoIP,
 games, DNS) across a network that lets only TCP through. One side listens for
 UDP from any source and sends every reply back to exactly the address and port
 it came from; the other forwards to a fixed target. Either side may listen for
 or dial the TCP connection. RFC 4571 framing, compatible with udptunnel and
 udp-over-tcp; an authenticated mode, limits, Prometheus metrics.
 .
 One systemd instance per configuration in /etc/tunnelactors:
 systemctl enable --now tunnelactors@NAME
"@
    # Files 0644 (shared libraries included), directories 0755; only the programs and scripts executable.
    & find $root -type d -exec chmod 0755 '{}' +
    & find $root -type f -exec chmod 0644 '{}' +
    & chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm" "$root/usr/lib/tunnelactors/tunnelactors" `
        "$root/usr/lib/tunnelactors/createdump"
    $deb = "$packages/tunnelactors_${version}_$arch.deb"
    & dpkg-deb --root-owner-group -Zxz --build $root $deb
    if ($LASTEXITCODE -ne 0) { throw 'dpkg-deb failed' }
    Write-Host "Packages: $deb, $packages/TunnelActors.$version.nupkg"
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
        $(if ($CRelay) { " -CRelay PATH/TO/udpbench" } else { '' })
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
