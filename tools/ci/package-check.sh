#!/usr/bin/env bash
# Packs the libraries and builds two fresh console apps from the packages alone, outside the repository:
#  1. one that references only IlgpuDiffusion.Compute and runs examples/ComputeQuickstart (the ops without models);
#  2. one that references IlgpuDiffusion and IlgpuDiffusion.Corpora and runs the samples of the packages' readmes
#     that need no training (tokenizer, model, sampler).
# Exits non-zero when a package is missing, a dependency leaks in, or an app fails.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
feed="$work/feed"
# A version of its own per run, so that NuGet's global cache never hands back an older build of the same version.
version="$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$root/Directory.Build.props")-check.$(date +%s)"

for project in IlgpuDiffusion.Compute IlgpuDiffusion IlgpuDiffusion.Corpora IlgpuDiffusion.Parquet; do
  dotnet pack "$root/src/$project/$project.csproj" -c Release -o "$feed" -p:Version="$version" --nologo -v quiet
  test -f "$feed/$project.$version.nupkg" || { echo "package-check: $project.$version.nupkg was not produced"; exit 1; }
done

# The compute package depends on ILGPU, ILGPU.Algorithms and System.Numerics.Tensors only.
deps=$(unzip -p "$feed/IlgpuDiffusion.Compute.$version.nupkg" IlgpuDiffusion.Compute.nuspec | sed -n 's:.*<dependency id="\([^"]*\)".*:\1:p' | sort | tr '\n' ' ')
if [ "$deps" != "ILGPU ILGPU.Algorithms System.Numerics.Tensors " ]; then
  echo "package-check: IlgpuDiffusion.Compute depends on: $deps"; exit 1
fi

new_app() { # name, package...
  local app="$work/$1"; shift
  mkdir -p "$app"
  cat > "$app/nuget.config" <<CONFIG
<configuration>
  <packageSources>
    <add key="local" value="$feed" />
  </packageSources>
</configuration>
CONFIG
  (cd "$app" && dotnet new console --framework net10.0 --force >/dev/null)
  for package in "$@"; do (cd "$app" && dotnet add package "$package" --version "$version" >/dev/null); done
  echo "$app"
}

compute=$(new_app compute-only IlgpuDiffusion.Compute)
cp "$root/examples/ComputeQuickstart/Program.cs" "$compute/Program.cs"
out=$(cd "$compute" && dotnet run -c Release -- cpu)
echo "$out" | tail -n 2
echo "$out" | grep -q "^step  600" || { echo "package-check: the compute-only app did not finish its 600 steps"; exit 1; }
if (cd "$compute" && dotnet list package --include-transitive) | grep -q "IlgpuDiffusion "; then
  echo "package-check: the compute-only app pulled in IlgpuDiffusion"; exit 1
fi

library=$(new_app library IlgpuDiffusion)
cat > "$library/Program.cs" <<'PROGRAM'
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Sampling;

using Device device = Device.Create("cpu");
using var model = new Dit(new DitConfig { Layers = 1, Hidden = 32, Heads = 2, CondDim = 16, Length = 16 }, device);
model.Initialize(seed: 1);
using var sampler = new DiffusionSampler(model, new SamplerOptions { Steps = 4, BatchSize = 2, Seed = 1 });
SamplingResult result = sampler.Sample(SamplingPrompt.Prefix(Gpt2Tokenizer.Shared.Encode("The Congress")));
Console.WriteLine($"sampled {result.Sequence(0).Length} tokens");
PROGRAM
out=$(cd "$library" && dotnet run -c Release)
echo "$out" | tail -n 1
echo "$out" | grep -q "^sampled 16 tokens" || { echo "package-check: the library app did not sample"; exit 1; }
echo "package-check: packages and fresh apps OK"
