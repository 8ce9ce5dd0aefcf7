#!/usr/bin/env bash
# scripts/deps.sh: installs the Debian 12 packages clmp needs, only those that are missing.
# Extra package names may be given as arguments (scripts/bench.sh adds python3-torch).
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config            # the build
  ocl-icd-opencl-dev opencl-headers            # the OpenCL ICD loader and headers
  pocl-opencl-icd mesa-opencl-icd              # two CPU OpenCL implementations (PoCL, Rusticl)
  libclblast-dev                               # CLBlast (Sgemm)
  libcunit1-dev                                # the tests
  zlib1g-dev                                   # gzip'ed datasets
  libcjson-dev                                 # JSON output and checkpoint headers
  valgrind                                     # memory checking of the host-side tests
  clang libclang-rt-14-dev                     # libFuzzer harnesses of the file parsers
  dataset-fashion-mnist                        # the training data (/usr/share/datasets)
  "$@"
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: run as root (or install sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}"
