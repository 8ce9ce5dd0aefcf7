#!/usr/bin/env bash
# scripts/bench.sh: sets everything up and benchmarks: installs what is missing (python3-torch
# too, for the PyTorch references), builds Release, and runs `clmp bench --torch` on the default
# device. Arguments go to clmp bench (`bash scripts/bench.sh --json-out bench.json`, `--quick`,
# `--only gemm,optim`, `--device cl:1`). On a machine without a package registry (the lent GPU),
# run the built program directly instead: `. scripts/gpu-env.sh; build/tools/clmp bench --torch`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh python3-torch >&2
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DCLMP_BUILD_TESTS=OFF >/dev/null
cmake --build build-release -j "$(nproc 2>/dev/null || echo 2)" >&2
# Debian's torch is /usr/bin/python3's; another python3 first in PATH (pyenv, venv) may lack it.
if [ -z "${CLMP_PYTHON:-}" ] && ! python3 -c 'import torch' 2>/dev/null &&
  /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  export CLMP_PYTHON=/usr/bin/python3
fi
exec build-release/tools/clmp bench --torch "$@"
