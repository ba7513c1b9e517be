#!/usr/bin/env bash
# Packs what a GPU machine without .NET needs into .device/bundle.tar.xz (git-ignored):
# the .NET runtime, the Release test build (linux-x64 natives only), the CLI and the
# xunit console runner. Carry `.device` in the device tool's `run` and start check.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
runner_version=2.4.1
dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
runtime=$(ls "$dotnet_root/shared/Microsoft.NETCore.App" | sort -V | tail -1)

dotnet build IlgpuDiffusion.sln -c Release -v quiet -nologo
# The console runner is a tool package, not a project dependency: fetch it into the NuGet cache.
stage=$(mktemp -d)
cat > "$stage/runner.csproj" <<PROJ
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net10.0</TargetFramework><ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally></PropertyGroup>
  <ItemGroup><PackageDownload Include="xunit.runner.console" Version="[$runner_version]" /></ItemGroup>
</Project>
PROJ
dotnet restore "$stage/runner.csproj" -v quiet
runner="$HOME/.nuget/packages/xunit.runner.console/$runner_version/tools/netcoreapp2.0"

mkdir -p "$stage/bundle/dotnet/shared/Microsoft.NETCore.App" "$stage/bundle/tests" "$stage/bundle/runner"
cp "$dotnet_root/dotnet" "$stage/bundle/dotnet/"
cp -r "$dotnet_root/host" "$stage/bundle/dotnet/"
cp -r "$dotnet_root/shared/Microsoft.NETCore.App/$runtime" "$stage/bundle/dotnet/shared/Microsoft.NETCore.App/"
# The CLI serves HTTP (serve), so it needs ASP.NET Core's shared framework too.
mkdir -p "$stage/bundle/dotnet/shared/Microsoft.AspNetCore.App"
cp -r "$dotnet_root/shared/Microsoft.AspNetCore.App/$runtime" "$stage/bundle/dotnet/shared/Microsoft.AspNetCore.App/"
cp -r tests/IlgpuDiffusion.Tests/bin/Release/net10.0/. "$stage/bundle/tests/"
# Natives of other platforms, where a package brings them (none has since the SVG plots replaced SkiaSharp's).
[ ! -d "$stage/bundle/tests/runtimes" ] || find "$stage/bundle/tests/runtimes" -mindepth 1 -maxdepth 1 ! -name linux-x64 -exec rm -rf {} +
cp -r "$runner/." "$stage/bundle/runner/"

mkdir -p .device
tar -C "$stage/bundle" -cf - . | xz -T2 -6 > .device/bundle.tar.xz
rm -rf "$stage"
ls -l .device/bundle.tar.xz
