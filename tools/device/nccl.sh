#!/usr/bin/env bash
# Runs on a CUDA machine from the repository root, with .device/bundle.tar.xz from pack.sh: the NCCL binding with one
# rank (the only NCCL check one GPU allows: a communicator of one sums a CUDA tensor in place) and the device-index
# check, against the libnccl.so.2 that PyTorch's nvidia-nccl wheel ships when the system has none. Logs go to $OUT.
set -uo pipefail
out=${OUT:-$PWD/device-out}; mkdir -p "$out"
root=/tmp/ilgpu-diffusion-bundle; mkdir -p $root
tar -xJf .device/bundle.tar.xz -C $root
export DOTNET_ROOT=$root/dotnet PATH=$root/dotnet:$PATH DOTNET_ROLL_FORWARD=Major DOTNET_CLI_TELEMETRY_OPTOUT=1
if ! ldconfig -p | grep -q libnccl.so.2; then
  wheel=$(python3 -c "import nvidia.nccl, os; print(os.path.join(os.path.dirname(nvidia.nccl.__file__), 'lib'))" 2>/dev/null)
  [ -n "$wheel" ] && export LD_LIBRARY_PATH="$wheel:${LD_LIBRARY_PATH:-}"
fi
echo "libnccl: $(ls "${wheel:-/usr/lib/x86_64-linux-gnu}"/libnccl.so.2 2>/dev/null || ldconfig -p | grep libnccl.so.2)" | tee "$out/nccl.txt"
timeout -k 5 120 dotnet $root/runner/xunit.console.dll $root/tests/IlgpuDiffusion.Tests.dll -parallel none -verbose \
  -class IlgpuDiffusion.Tests.Ilgpu.NcclTests -xml "$out/nccl.xml" 2>&1 | tee "$out/nccl.log" | grep -E "PASS|FAIL|SKIP|Total"
