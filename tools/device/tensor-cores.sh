#!/usr/bin/env bash
# The tensor-core check for a CUDA machine, from the repository root with .device/bundle.tar.xz from pack.sh (carry
# .device). Usage: tensor-cores.sh SECONDS [PHASE...]: runs the named phases (all, in the order below, when none is
# named) and stops starting phases once SECONDS have passed, so the call ends inside the device tool's limit. Each
# phase has its own time limit as well. Logs go to $OUT/logs.tar.gz (the device tool brings back at most 8 files);
# the last lines printed are the phases' tables. GEMM_PRECISIONS and PROFILE_PRECISIONS narrow those phases' precisions.
# The order puts the issues' headline numbers first: within 550 seconds, kernels (every compile, up front),
# gemm-check (correctness), steps (tokens/s), torch (the yardstick) and attention fit; gemm and the rest take a second
# call. A session's 15 minutes of device time, the machine's start included, hold about two calls:
# `tensor-cores.sh 550`, then, in what is left,
# `GEMM_PRECISIONS="tf32 bf16" tensor-cores.sh SECONDS kernels gemm steps-cp-async steps-warpgroup sampling-warpgroup ncu`
# (kernels: seconds where the first call's compiles are still cached, the machine held between calls; 60-100 s a
# GEMM precision, 50 s a precision's steps, up to 120 s the sampling, 30-60 s a profiled kernel family: those times are
# from runs in which each CLI start paid its kernels' compile; now the first process to use a kernel keeps its PTX in
# ~/.cache/ilgpudiffusion/kernels, which later phases, and a later call on a machine still held, read instead).
#   kernels        every kernel compiled for the GPU into the PTX cache (ilgpu-diffusion kernels, on KERNEL_THREADS
#                  threads, default 1: a second gained nothing on 2 cores here), so that no later phase compiles one;
#   gemm-check     the GEMM conformance rows on cuda, cuda-tf32, cuda-bf16, cuda-bf16-pipelined, cuda-tf32-pipelined
#                  (copies staged through cp.async, from rewritten PTX), cuda-bf16-warpgroup and cuda-tf32-warpgroup
#                  (copies on Hopper's warpgroup products, wgmma, from PTX rewritten for sm_90a: the first check of their
#                  shared-memory layout on hardware; WarpgroupProbeTests writes which elements each wrong result read)
#                  against the rounded reference, the
#                  tensor-core attention's cuda rows (TensorCoreAttentionTests), a DiT pass per precision against fp32
#                  (TensorCorePrecisionTests), a kernel loaded from the PTX cache (PtxCacheTests); cuda rows only
#                  (the cpu and ilgpu-cpu rows are left out, the emulated tensor-core rows skip where a GPU is
#                  present: run here, they took over 4 minutes);
#   steps          unprofiled Small training steps in tf32 and bf16 (tokens/s, without even the profile's event reads, and
#                  MFU against 989 TFLOP/s, the dense BF16 tensor-core rate of an H100 or H200 SXM);
#   steps-cp-async the tf32 and bf16 steps with the GEMMs on copies staged through cp.async, and under bf16 the attention's
#                  tiles too (the hidden --gemm-staging; not the default until this and the gemm and attention phases'
#                  alternative rows say it is faster);
#   steps-warpgroup the tf32 and bf16 steps with the GEMMs on copies on Hopper's warpgroup products (wgmma; TF32 on TF32
#                  copies) and the rest staged as steps-cp-async does (--gemm-staging warpgroup);
#   sampling-warpgroup the student's sampling time (B 32 × L 1024 at 8/16/32 steps, the issue's "under 2 s" at 32) in bf16
#                  with the GEMMs on warpgroup products (--gemm-staging warpgroup): a sampling step is forward GEMMs above
#                  all, which only warpgroup products run near cuBLAS's rates on an H100 or H200;
#   torch          torch.matmul on the gemm phase's shapes and PyTorch's eager Small training step (bench/torch/dit_step.py);
#   attention      our attention of one Small layer (B 8 × H 12 × L 1024 × d 64, forward and backward) in bf16, tf32, fp32,
#                  beside PyTorch's scaled_dot_product_attention (flash BF16, memory-efficient fp32, TF32 allowed); bf16
#                  with rows for the forward and backward whose tiles arrive by cp.async, tf32 with the key pass in blocks
#                  of 32;
#   gemm           our GEMMs on the Small model's training shapes (B 8 × L 1024) in tf32, bf16 and fp32, each beside the
#                  same kernels without their launch bounds (TF32 beside its stages of 16 and its copies staged through
#                  cp.async, BF16 beside fp32 operands and beside its copies staged through cp.async, both on an H100
#                  or H200 beside their copies on warpgroup products);
#   latency        the paper's latency table on the Small model (B 8 × L 1024, diffusion at 8/16/32/64 steps against the
#                  KV-cached GPT of matched size), tf32, and the student's sampling time (B 32 × L 1024 at 8/16/32 steps)
#                  in tf32 and bf16, then where a run's time goes at 32 steps in bf16, op by op (bench --profile), and
#                  PyTorch's eager BF16 sampler on the same shapes (dit_step.py --sample);
#   profile        a profiled Small training step (per-op table, each op timed by CUDA events on the device's stream,
#                  the host never waiting between ops) in tf32, bf16 and fp32 (today's SIMT kernels);
#   attention-wide the attention phase for one Large layer (B 8 × H 16 × L 1024 × d 96: the wide-head flash forward and
#                  backward) in bf16 and tf32, beside scaled_dot_product_attention;
#   conformance    the whole conformance suite's cuda rows (every op, cuda precisions included), the stream's order, the
#                  host's waits and the profile's stream events;
#   demo           the README's main job on the GPU in its default precision (tf32) on the tiny preset: every stage
#                  (teacher, judge, SDTT rounds, evaluation, report) in seconds, with heads of 16 (the narrow-head kernels);
#   sass           the SASS check with this machine's ptxas/cuobjdump (no local memory, HMMA, a lean k loop, LDSM; CI
#                  makes it with CUDA 11.8's, and the warpgroup GEMMs' for sm_90a with CUDA 12.4's);
#   ncu            Nsight Compute on one TF32 GEMM launch and one BF16 GEMM on copies (qkv forward), each staged through
#                  registers and through cp.async (the second from the alternatives bench --gemm times), and each on
#                  warpgroup products, then on the
#                  attention's forward, key pass and dq pass in bf16 (staged through registers, then copied by cp.async)
#                  and tf32: each kernel's sections (L2 throughput says
#                  whether 128 × 128 tiles of fp32 operands are bound by L2: 10.5% at 19 TFLOP/s on 2026-12-04, so about
#                  200 TFLOP/s at most; warp states say what the warps wait for), and its SASS with each instruction's
#                  executions and warp-stall samples as CSV (ncu-*-sass.log), so that sessions without a GPU can see
#                  where a kernel's loop stalls;
#   sanitize       compute-sanitizer's memcheck over the tensor-core GEMM and attention tests' cuda rows (out-of-bounds
#                  and misaligned accesses: the 16-byte loads and stores assume alignments only a GPU can check), then
#                  racecheck over the attention tests (shared-memory races between a tile's writes and reads);
#   torch-compile  PyTorch's torch.compile Small training step.
set -uo pipefail
budget=${1:?usage: tensor-cores.sh SECONDS [PHASE...]}; shift
phases=${*:-kernels gemm-check steps torch attention gemm steps-cp-async steps-warpgroup sampling-warpgroup latency profile attention-wide
  conformance demo sass ncu sanitize torch-compile}
repo=$PWD
. "$(dirname "$0")/bundle.sh"
logs=/tmp/tensor-core-logs; mkdir -p $logs
# the kernels' PTX cache (PtxCache) that later phases and calls read: its entries and size go with the logs
trap 'du -s --apparent-size -k ~/.cache/ilgpudiffusion/kernels/* > $logs/kernel-cache.txt 2>&1
  find ~/.cache/ilgpudiffusion/kernels -name "*.ptx" | wc -l >> $logs/kernel-cache.txt
  tar -C /tmp -czf "$out/logs.tar.gz" tensor-core-logs' EXIT
export PTXAS=$(command -v ptxas || true) CUOBJDUMP=$(command -v cuobjdump || true)
export PTXAS_SM90A=$PTXAS CUOBJDUMP_SM90A=$CUOBJDUMP # this machine's CUDA 12 assembles sm_90a (the warpgroup GEMMs)
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv | tee $logs/gpu.txt
{ ptxas --version | tail -1; nproc; uptime; } | tee -a $logs/gpu.txt
tests=$root/tests
export DOTNET_gcServer=1 # the xunit runner too: ILGPU compiles 1.45x faster under server GC
xunit="dotnet $root/runner/xunit.console.dll $tests/IlgpuDiffusion.Tests.dll -parallel none -verbose"
cli="dotnet $tests/ilgpu-diffusion.dll"
small="--preset small --batch 8"
# bf16: not the copy kernel before it; *-pipelined: the cp.async kernels, which bench --gemm times beside the defaults
declare -A ncu_gemm=([tf32]='^Kernel_Tf32DeepABt$' [bf16]='^Kernel_Bf16CopiesABt$' [bf16-pipelined]='^Kernel_Bf16PipelinedABt$'
  [tf32-pipelined]='^Kernel_Tf32PipelinedABt$' [bf16-warpgroup]='^Kernel_Bf16WarpgroupABt$'
  [tf32-warpgroup]='^Kernel_Tf32WarpgroupABt$')
# The attention's third forward (after two warm-ups), then the first backward's key pass and dq pass (--launch-skip 2).
ncu_attention='^Kernel_(Forward|KeyValue|KeyValueBlock|Query)$'
ncu_attention_copied='^Kernel_(ForwardPipelined|KeyValuePipelined|QueryPipelined)$' # bf16's tiles copied by cp.async
phase() { local name=$1 limit=$2; shift 2
  local left=$((budget - SECONDS)); if [ $left -lt 15 ]; then echo "=== $name skipped: the budget is spent"; return; fi
  [ $limit -gt $left ] && limit=$left
  echo "=== $name (limit ${limit}s)"; local start=$SECONDS
  (cd /tmp && timeout -k 5 "$limit" "$@") > $logs/$name.log 2>&1; local rc=$?
  echo "=== $name rc=$rc $((SECONDS - start))s"; grep -E "Total:|\[FAIL\]|rror|tok/s|\| " $logs/$name.log | tail -45; }
# Nsight Compute on the launches a kernel-name regex picks (after SKIP, COUNT of them) of the command that follows,
# which it then stops (the rest of a benchmark would spend device time for nothing). The report stays outside the logs
# (it can pass the 16 MiB a returned file may hold), its sections go to NAME-details.log, its SASS with each
# instruction's executions and stall samples to NAME-sass.log, and their summary (ncu-stalls.py: the stall reasons'
# shares, the instructions with the most samples) to NAME-stalls.log and the output.
ncu_profile() { local name=$1 kernels=$2 skip=$3 count=$4; shift 4; mkdir -p /tmp/ncu
  phase $name 90 ncu --clock-control none --launch-skip $skip --launch-count $count --kill on --kernel-name "regex:$kernels" \
    --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats --section SchedulerStats \
    --section MemoryWorkloadAnalysis --section ComputeWorkloadAnalysis --section InstructionStats --section SourceCounters \
    -f -o /tmp/ncu/$name "$@"
  phase $name-details 30 ncu -i /tmp/ncu/$name.ncu-rep --print-units base
  phase $name-sass 30 ncu -i /tmp/ncu/$name.ncu-rep --page source --print-source sass --csv
  phase $name-stalls 20 python3 "$repo/tools/device/ncu-stalls.py" $logs/$name-sass.log 12; }

for p in $phases; do case $p in
  kernels) phase kernels 120 $cli kernels --threads ${KERNEL_THREADS:-1} ;;
  gemm-check) ILGPUDIFFUSION_TEST_BACKENDS=cuda phase gemm-check 300 $xunit \
    -class IlgpuDiffusion.Tests.Conformance.LinearConformanceTests -class IlgpuDiffusion.Tests.Models.TensorCorePrecisionTests \
    -class IlgpuDiffusion.Tests.Ilgpu.TensorCoreAttentionTests -class IlgpuDiffusion.Tests.Ilgpu.WarpgroupProbeTests \
    -class IlgpuDiffusion.Tests.Ilgpu.PtxCacheTests -xml $logs/gemm-check.xml ;;
  sass) phase sass 150 $xunit -class IlgpuDiffusion.Tests.Ilgpu.TensorCoreSassTests -xml $logs/sass.xml ;;
  attention) for precision in bf16 tf32 fp32; do
    phase attention-$precision 60 $cli bench --attention $small --length 1024 --runs 10 --device cuda --precision $precision; done
    phase attention-torch 60 python3 "$repo/bench/torch/dit_step.py" --attention $small --length 1024 ;;
  attention-wide) for precision in bf16 tf32; do
    phase attention-wide-$precision 40 $cli bench --attention --preset large --batch 8 --length 1024 --runs 10 --device cuda \
      --precision $precision; done
    phase attention-wide-torch 60 python3 "$repo/bench/torch/dit_step.py" --attention --preset large --batch 8 --length 1024 ;;
  latency) phase latency 120 $cli bench --preset small --batch 8 --length 1024 --steps 8,16,32,64 --device cuda \
      --precision tf32
    for precision in tf32 bf16; do
      phase sampling-$precision 120 $cli bench --preset small --batch 32 --length 1024 --steps 8,16,32 --device cuda \
        --precision $precision; done
    phase sampling-profile 120 $cli bench --preset small --batch 32 --length 1024 --steps 32 --device cuda --precision bf16 \
      --profile
    phase sampling-torch 60 python3 "$repo/bench/torch/dit_step.py" --preset small --batch 32 --length 1024 --sample 8,16,32 \
      --runs 3 ;;
  sampling-warpgroup) phase sampling-bf16-warpgroup 120 $cli bench --preset small --batch 32 --length 1024 --steps 8,16,32 \
      --device cuda --precision bf16 --gemm-staging warpgroup ;;
  gemm) for precision in ${GEMM_PRECISIONS:-tf32 bf16 fp32}; do # tf32 and bf16 compile three devices' kernels beside their own
    phase gemm-$precision $([ $precision = fp32 ] && echo 60 || echo 100) $cli bench --gemm $small --length 1024 --runs 10 \
      --device cuda --precision $precision; done ;;
  torch) phase torch 75 python3 "$repo/bench/torch/dit_step.py" --preset small --batch 8 --length 1024 --no-compile ;;
  profile) for precision in ${PROFILE_PRECISIONS:-tf32 bf16 fp32}; do
    phase profile-$precision 60 $cli train --embedded $small --steps 6 --warmup 2 --log-interval 1 --validation-batches 1 \
      --device cuda --precision $precision --profile -o /tmp/small-$precision.safetensors; done ;;
  steps) for precision in tf32 bf16; do
    phase steps-$precision 50 $cli train --embedded $small --steps 12 --warmup 2 --log-interval 2 --validation-batches 1 \
      --device cuda --precision $precision --peak-tflops 989 -o /tmp/steps-$precision.safetensors; done ;;
  steps-cp-async) for precision in tf32 bf16; do
    phase steps-$precision-cp-async 50 $cli train --embedded $small --steps 12 --warmup 2 --log-interval 2 \
      --validation-batches 1 --device cuda --precision $precision --gemm-staging cp-async --peak-tflops 989 \
      -o /tmp/steps-$precision-cp-async.safetensors; done ;;
  steps-warpgroup) for precision in tf32 bf16; do
    phase steps-$precision-warpgroup 50 $cli train --embedded $small --steps 12 --warmup 2 --log-interval 2 \
      --validation-batches 1 --device cuda --precision $precision --gemm-staging warpgroup --peak-tflops 989 \
      -o /tmp/steps-$precision-warpgroup.safetensors; done ;;
  ncu) for kernel in tf32 tf32-pipelined tf32-warpgroup bf16 bf16-pipelined bf16-warpgroup; do precision=${kernel%%-*}
      ncu_profile ncu-$kernel "${ncu_gemm[$kernel]}" 0 1 \
        $cli bench --gemm --preset small --batch 8 --length 1024 --runs 1 --device cuda --precision $precision; done
    for precision in bf16 tf32; do
      ncu_profile ncu-attention-$precision "$ncu_attention" 2 3 \
        $cli bench --attention $small --length 1024 --runs 1 --device cuda --precision $precision; done
    ncu_profile ncu-attention-bf16-cp-async "$ncu_attention_copied" 2 3 \
      $cli bench --attention $small --length 1024 --runs 1 --device cuda --precision bf16 --gemm-staging cp-async ;;
  sanitize) ILGPUDIFFUSION_TEST_BACKENDS=cuda phase sanitize-memcheck 150 compute-sanitizer --tool memcheck \
      --print-limit 20 $xunit -class IlgpuDiffusion.Tests.Ilgpu.TensorCoreAttentionTests \
      -class IlgpuDiffusion.Tests.Conformance.LinearConformanceTests -xml $logs/sanitize-memcheck.xml
    ILGPUDIFFUSION_TEST_BACKENDS=cuda phase sanitize-racecheck 120 compute-sanitizer --tool racecheck --print-limit 20 \
      $xunit -class IlgpuDiffusion.Tests.Ilgpu.TensorCoreAttentionTests -xml $logs/sanitize-racecheck.xml ;;
  conformance) ILGPUDIFFUSION_TEST_BACKENDS=cuda phase conformance 150 $xunit -namespace IlgpuDiffusion.Tests.Conformance \
    -class IlgpuDiffusion.Tests.Ilgpu.CudaStreamTests -class IlgpuDiffusion.Tests.Ilgpu.StreamEventClockTests \
    -class IlgpuDiffusion.Tests.Compute.HostWaitTests -xml $logs/conformance.xml ;;
  demo) phase demo 120 $cli demo --preset tiny -o /tmp/demo-tiny ;;
  torch-compile) phase torch-compile 150 python3 "$repo/bench/torch/dit_step.py" --preset small --batch 8 --length 1024 \
    --skip-gemms ;;
  *) echo "unknown phase $p"; exit 2 ;;
esac; done
echo "=== done in ${SECONDS}s"
