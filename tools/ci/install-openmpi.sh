#!/usr/bin/env bash
# Installs Open MPI's launcher and library (Debian's openmpi-bin) for the data-parallel tests, which start
# `mpirun -np 2` jobs. Warns and goes on when they cannot be installed: those tests then skip, saying why.
set -uo pipefail
if command -v mpirun >/dev/null 2>&1; then exit 0; fi
run_as_root=()
if [ "$(id -u)" != 0 ]; then run_as_root=(sudo -n); fi
if ! ("${run_as_root[@]}" apt-get update -qq >/dev/null 2>&1 &&
      DEBIAN_FRONTEND=noninteractive "${run_as_root[@]}" apt-get install -y -qq --no-install-recommends openmpi-bin >/dev/null 2>&1); then
  echo "install-openmpi: Debian's openmpi-bin could not be installed; the data-parallel tests will skip." >&2
  exit 0
fi
mpirun --version | head -n 1
