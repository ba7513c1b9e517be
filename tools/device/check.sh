#!/usr/bin/env bash
# Runs on a CUDA machine from the repository root, with .device/bundle.tar.xz from pack.sh:
# 1. the conformance and kernel tests (every backend, CUDA included, against the scalar reference),
# 2. the CLI on --device cuda: training throughput (Tiny and the paper's Small), sampling, latency,
# 3. the rest of the test suite (tests on the default device now run on CUDA).
# Logs go to $OUT (or ./device-out); each phase has its own time limit so one hang cannot eat the rest.
set -uo pipefail
. "$(dirname "$0")/bundle.sh"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
tests=$root/tests
xunit="dotnet $root/runner/xunit.console.dll $tests/IlgpuDiffusion.Tests.dll -parallel none -verbose"
cli="dotnet $tests/ilgpu-diffusion.dll"
phase() { local name=$1 limit=$2; shift 2; echo "=== $name (limit ${limit}s)"; local start=$SECONDS
  timeout -k 5 "$limit" "$@" > "$out/$name.log" 2>&1; local rc=$?
  echo "=== $name rc=$rc $((SECONDS - start))s"; grep -E "Total:|FAIL|error|tok/s|passes|\| *[0-9]" "$out/$name.log" | tail -25; }

phase kernels 170 $xunit -namespace IlgpuDiffusion.Tests.Conformance -namespace IlgpuDiffusion.Tests.Ilgpu -xml "$out/kernels.xml"
cd /tmp
phase train-tiny 60 $cli train --embedded --device cuda --steps 60 --warmup 10 --lr 1e-3 --log-interval 10 --validation-batches 2 -o /tmp/tiny.safetensors
phase sample 40 $cli sample /tmp/tiny.safetensors --device cuda --steps 64 --batch 8 --seed 1 -o /tmp/samples.txt
phase train-small 90 $cli train --embedded --device cuda --preset small --batch 8 --steps 12 --warmup 2 --log-interval 2 --validation-batches 1 -o /tmp/small.safetensors
phase bench 60 $cli bench --device cuda --batch 8 --length 128 --steps 8,16,64,L
cd - > /dev/null
phase suite 110 $xunit -nonamespace IlgpuDiffusion.Tests.Conformance -nonamespace IlgpuDiffusion.Tests.Ilgpu -xml "$out/suite.xml"
