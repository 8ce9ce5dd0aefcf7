#!/usr/bin/env bash
# scripts/train.sh: sets everything up and trains: installs what is missing (the Fashion-MNIST
# package too), builds, and runs `clmp train` on the default device. Arguments go to clmp train;
# without any, a short run sized for a 2-core CPU (3 epochs; on a GPU pass --epochs 10).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DCLMP_BUILD_TESTS=OFF >/dev/null
cmake --build build-release -j "$(nproc 2>/dev/null || echo 2)"
if [ $# -eq 0 ]; then set -- --epochs 3; fi
exec build-release/tools/clmp train "$@"
