#!/usr/bin/env bash
# scripts/test.sh: sets everything up and runs the whole test suite: installs what is missing,
# builds, runs every CUnit suite on every OpenCL device present (PoCL and Mesa Rusticl's
# llvmpipe), then again in an AddressSanitizer + UndefinedBehaviorSanitizer build with fault
# injection on (test_fault), and the host-side suites under valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS=$(nproc 2>/dev/null || echo 2)
export RUSTICL_ENABLE=llvmpipe
# The test of `clmp devices` checks that both OpenCL implementations are found.
export CLMP_TEST_EXPECT_PLATFORMS="Portable Computing Language,rusticl"

bash scripts/deps.sh

echo "== build (RelWithDebInfo, valgrind tests on)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLMP_BUILD_TESTS=ON -DCLMP_VALGRIND=ON >/dev/null
cmake --build build -j "$JOBS"
build/tools/clmp devices

echo "== tests"
(cd build && ctest --output-on-failure -j "$JOBS")

echo "== tests, sanitizer build (address, undefined) with fault injection"
cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Debug -DCLMP_SANITIZE=ON \
  -DCLMP_FAULT_INJECT=ON >/dev/null
cmake --build build-sanitize -j "$JOBS"
(cd build-sanitize && ctest --output-on-failure -j "$JOBS")
echo "== fuzzing the file parsers (libFuzzer, ${FUZZ_SECONDS:=20} s each, seed corpus in fuzz/corpus)"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLMP_FUZZ=ON \
  -DCLMP_BUILD_TESTS=OFF -DCLMP_BUILD_TOOLS=OFF >/dev/null
cmake --build build-fuzz -j "$JOBS"
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
# The harnesses run on the reference device: no OpenCL driver is loaded (an empty vendors folder),
# so that no driver's allocations are in the leak checks.
export OCL_ICD_VENDORS=$(mktemp -d)
root=$PWD
for target in idx safetensors checkpoint spec; do
  work=$(mktemp -d)
  cp fuzz/corpus/$target/* "$work/"
  if ! (cd "$work" && "$root/build-fuzz/fuzz/fuzz_$target" -max_total_time="$FUZZ_SECONDS" \
        -print_final_stats=1 "$work" >"$work.log" 2>&1); then
    tail -n 60 "$work.log"
    echo "fuzz_$target found a failure (the input is saved in $work)" >&2
    exit 1
  fi
  echo "fuzz_$target: $(grep -E '^Done' "$work.log")"
  rm -rf "$work" "$work.log"
done
echo "== all tests passed"
