#!/usr/bin/env bash
# The tensor-core check for a CUDA machine, from the repository root with .device/bundle.tar.xz from pack.sh (carry
# .device): each phase has its own time limit, logs go to $OUT (or ./device-out).
#  1. the GEMM conformance rows on cuda, cuda-tf32 and cuda-bf16 against the rounded reference, and the SASS check with
#     this machine's ptxas/cuobjdump (no local memory, HMMA);
#  2. our GEMMs on the Small model's training shapes (B 8 × L 1024) per precision, beside torch.matmul (bench/torch);
#  3. a profiled Small training step per precision, beside PyTorch's eager and compiled step.
# About 11 minutes at most (the phases' limits), within the 15 minutes of device time a session gets.
set -uo pipefail
repo=$PWD
. "$(dirname "$0")/bundle.sh"
export PTXAS=$(command -v ptxas || true) CUOBJDUMP=$(command -v cuobjdump || true)
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
tests=$root/tests
xunit="dotnet $root/runner/xunit.console.dll $tests/IlgpuDiffusion.Tests.dll -parallel none -verbose"
cli="dotnet $tests/ilgpu-diffusion.dll"
phase() { local name=$1 limit=$2; shift 2; echo "=== $name (limit ${limit}s)"; local start=$SECONDS
  timeout -k 5 "$limit" "$@" > "$out/$name.log" 2>&1; local rc=$?
  echo "=== $name rc=$rc $((SECONDS - start))s"; grep -E "Total:|FAIL|error|\| " "$out/$name.log" | tail -40; }

phase gemm-conformance 120 $xunit -class IlgpuDiffusion.Tests.Conformance.LinearConformanceTests \
  -class IlgpuDiffusion.Tests.Ilgpu.TensorCoreSassTests -class IlgpuDiffusion.Tests.Ilgpu.TensorCoreGemmTests
cd /tmp
for precision in fp32 tf32 bf16; do
  phase gemm-$precision 45 $cli bench --gemm --preset small --batch 8 --length 1024 --runs 5 --device cuda --precision $precision
done
phase torch 90 python3 "$repo/bench/torch/dit_step.py" --preset small --batch 8 --length 1024 --no-compile
for precision in tf32 bf16 fp32; do
  phase step-$precision 80 $cli train --embedded --preset small --batch 8 --steps 6 --warmup 2 --log-interval 1 \
    --validation-batches 1 --device cuda --precision $precision --profile -o /tmp/small-$precision.safetensors
done
phase torch-compile 150 python3 "$repo/bench/torch/dit_step.py" --preset small --batch 8 --length 1024 --skip-gemms
