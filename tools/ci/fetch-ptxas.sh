#!/usr/bin/env bash
# Fetches NVIDIA's ptxas, cuobjdump and nvdisasm (which cuobjdump runs for -sass) from Debian's non-free
# nvidia-cuda-toolkit package, without installing anything: CUDA 11.8 (bookworm) into .ci-tools/cuda, for the SASS checks
# of the kernels TensorCoreSassTests counts, and CUDA 12.4 (trixie) into .ci-tools/cuda12, for the kernels that only
# assemble for sm_90a (Hopper's warpgroup products), which CUDA 11.8 does not know. Prints the
# `export PTXAS=… CUOBJDUMP=…` and `export PTXAS_SM90A=… CUOBJDUMP_SM90A=…` lines that let the tests assemble them.
# Prints nothing for a release the mirror does not serve (and a warning on stderr): those tests then skip, saying why.
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"

# fetch RELEASE TARGET: the three tools of RELEASE's nvidia-cuda-toolkit under TARGET/usr/bin; fails where it cannot.
fetch() {
  local release=$1 target=$2
  [ -x "$target/usr/bin/ptxas" ] && [ -x "$target/usr/bin/nvdisasm" ] && return 0
  local work; work=$(mktemp -d)
  echo "deb http://deb.debian.org/debian $release non-free" > "$work/sources.list"
  local apt_options=(-o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache" -o Debug::NoLocking=1)
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
  if ! (apt-get "${apt_options[@]}" update -qq >/dev/null 2>&1 &&
        cd "$work" && apt-get "${apt_options[@]}" download -qq nvidia-cuda-toolkit >/dev/null 2>&1); then
    echo "fetch-ptxas: Debian $release's nvidia-cuda-toolkit could not be fetched; its SASS checks will skip." >&2
    rm -rf "$work"
    return 1
  fi
  mkdir -p "$target"
  dpkg-deb --fsys-tarfile "$work"/nvidia-cuda-toolkit_*.deb | tar -x -C "$target" ./usr/bin/ptxas ./usr/bin/cuobjdump ./usr/bin/nvdisasm
  local status=$?
  rm -rf "$work"
  return $status
}

if fetch bookworm "$root/.ci-tools/cuda"; then
  echo "export PTXAS='$root/.ci-tools/cuda/usr/bin/ptxas' CUOBJDUMP='$root/.ci-tools/cuda/usr/bin/cuobjdump'"
fi
if fetch trixie "$root/.ci-tools/cuda12"; then
  echo "export PTXAS_SM90A='$root/.ci-tools/cuda12/usr/bin/ptxas' CUOBJDUMP_SM90A='$root/.ci-tools/cuda12/usr/bin/cuobjdump'"
fi
