#!/bin/sh
# Builds and runs every test, installing missing Debian packages first:
#   1. the Criterion suites (each on both backends; the elementwise and reduction suites, whose
#      kernels both backends share, on naive only: their blas registration runs in step 2), the
#      install/consumer, C++, MPI and minitorch-train tests, in a build with AddressSanitizer +
#      UBSan (+ LeakSanitizer) and warnings as errors;
#   2. the Criterion suites again in a Release build (-O3 -march=native: other code generation,
#      other rounding paths; the blas registration of each suite, which also runs the shared
#      elementwise and reduction kernels), plus the main job's quick run (benchmarks agree with
#      their baselines and leave the checkout unchanged);
#   3. Valgrind memcheck over a representative subset (tests/valgrind.sh, a portable build);
#   4. the libFuzzer targets for 60 seconds (tests/fuzz/run.sh, a clang build).
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
if [ $# -eq 0 ]; then
    (cd "$build" && ctest --output-on-failure -j "$(nproc)" -E "^bench_(quick|run_clean)$|^test_ops_(elementwise|reduce)[.]blas$")
    release="${MINITORCH_RELEASE_TEST_BUILD:-build-test-release}"
    cmake -S . -B "$release" -DCMAKE_BUILD_TYPE=Release -DMINITORCH_WERROR=ON
    cmake --build "$release" -j "$(nproc)"
    # one backend per suite here (the sanitized run covered both): blas, or the suites that switch
    # backends themselves
    (cd "$release" && ctest --output-on-failure -j "$(nproc)" -R "^test_.*[.](blas|both)$|^test_dist|^bench_(quick|run_clean)$")
    sh tests/valgrind.sh
    sh tests/fuzz/run.sh "${MINITORCH_FUZZ_SECONDS:-60}"
else
    (cd "$build" && ctest --output-on-failure -j "$(nproc)" "$@")
fi
echo "all tests passed"
