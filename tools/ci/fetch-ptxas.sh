#!/usr/bin/env bash
# Fetches NVIDIA's ptxas, cuobjdump and nvdisasm (which cuobjdump runs for -sass), CUDA 11.8, from Debian's non-free
# nvidia-cuda-toolkit package into .ci-tools/cuda, without installing anything, and prints the
# `export PTXAS=… CUOBJDUMP=…` line that lets TensorCoreSassTests assemble the tensor-core kernels. Prints nothing
# (and a warning on stderr) when the mirror does not serve the package: the tests then skip, saying why.
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
target="$root/.ci-tools/cuda"
if [ ! -x "$target/usr/bin/ptxas" ] || [ ! -x "$target/usr/bin/nvdisasm" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "deb http://deb.debian.org/debian bookworm non-free" > "$work/sources.list"
  apt_options=(-o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache" -o Debug::NoLocking=1)
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
  if ! (apt-get "${apt_options[@]}" update -qq >/dev/null 2>&1 &&
        cd "$work" && apt-get "${apt_options[@]}" download -qq nvidia-cuda-toolkit >/dev/null 2>&1); then
    echo "fetch-ptxas: Debian's nvidia-cuda-toolkit could not be fetched; the SASS checks will skip." >&2
    exit 0
  fi
  mkdir -p "$target"
  dpkg-deb --fsys-tarfile "$work"/nvidia-cuda-toolkit_*.deb | tar -x -C "$target" ./usr/bin/ptxas ./usr/bin/cuobjdump ./usr/bin/nvdisasm || exit 0
fi
echo "export PTXAS='$target/usr/bin/ptxas' CUOBJDUMP='$target/usr/bin/cuobjdump'"
