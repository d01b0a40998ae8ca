#!/bin/sh
# Builds and runs every test, installing missing Debian packages first:
#   1. the Criterion suites (each on both backends), the install/consumer test and the
#      minitorch-train smoke tests, in a build with AddressSanitizer + UBSan (+ LeakSanitizer)
#      and warnings as errors;
#   2. Valgrind memcheck over a representative subset (tests/valgrind.sh, a portable build);
#   3. the libFuzzer target for 60 seconds (tests/fuzz/run.sh, a clang build).
#   sh tests/run.sh                  # everything
#   sh tests/run.sh -R test_ops      # only step 1, with these ctest arguments
set -eu
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then
    sh third_party/install-deps.sh --valgrind --fuzz --mpi
else
    sh third_party/install-deps.sh --mpi
fi
build="${MINITORCH_TEST_BUILD:-build-test}"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMINITORCH_SANITIZE=ON -DMINITORCH_WERROR=ON
cmake --build "$build" -j "$(nproc)"
(cd "$build" && ctest --output-on-failure -j "$(nproc)" "$@")
if [ $# -eq 0 ]; then
    sh tests/valgrind.sh
    sh tests/fuzz/run.sh "${MINITORCH_FUZZ_SECONDS:-60}"
fi
echo "all tests passed"
