#!/usr/bin/env bash
# The NCCL check for a CUDA machine, from the repository root with .device/bundle.tar.xz from pack.sh (carry .device):
# the NCCL tests (NcclDeviceTests: a one-rank communicator joins, sums a tensor a kernel wrote just before, and leaves
# ILGPU's context current; NcclCommunicatorTests; DeviceIndexTests on CUDA), with libnccl.so.2 taken from the machine
# (the system's, or the one PyTorch's nvidia-nccl wheel installed). Prints NCCL's version; fails when the NCCL tests
# were skipped (no GPU, no NCCL) rather than passing quietly. Logs and the xunit XML go to $OUT (or ./device-out).
# About a minute; the limit is 150 s.
set -uo pipefail
. "$(dirname "$0")/bundle.sh"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"

nccl=$(ldconfig -p | awk '/libnccl\.so\.2 /{print $NF; exit}')
if [ -z "$nccl" ]; then
  for dir in $(python3 -c 'import sys; print(" ".join(p for p in sys.path if p))' 2>/dev/null) /usr /opt; do
    nccl=$(find "$dir" -name 'libnccl.so.2' 2>/dev/null | head -1); [ -n "$nccl" ] && break
  done
fi
if [ -z "$nccl" ]; then echo "libnccl.so.2 is not on this machine: nothing to check"; exit 2; fi
echo "NCCL library: $nccl"
export LD_LIBRARY_PATH=$(dirname "$nccl")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} NCCL_DEBUG=WARN

tests=$root/tests
timeout -k 5 150 dotnet $root/runner/xunit.console.dll $tests/IlgpuDiffusion.Tests.dll -parallel none -verbose \
  -class IlgpuDiffusion.Tests.Ilgpu.NcclDeviceTests -class IlgpuDiffusion.Tests.Ilgpu.NcclCommunicatorTests \
  -class IlgpuDiffusion.Tests.Compute.DeviceIndexTests -xml "$out/nccl.xml" 2>&1 | tee "$out/nccl.log"
rc=${PIPESTATUS[0]}
grep -o 'NCCL [0-9][0-9.]* on [^<]*' "$out/nccl.xml" | head -1
if grep -q 'name="IlgpuDiffusion.Tests.Ilgpu.NcclDeviceTests[^"]*"[^>]*result="Skip"' "$out/nccl.xml"; then
  echo "NcclDeviceTests were skipped (see the reason above): NCCL did not run"; exit 3
fi
echo "=== nccl rc=$rc"
exit $rc
