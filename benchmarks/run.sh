#!/bin/sh
# The main job: builds the library in Release mode and runs the benchmark suite on both backends
# (naive vs blas vs in-binary baselines), writing tables to stdout and results + charts to
# benchmarks/results/. Installs missing Debian packages first (gnuplot for the charts).
#   sh benchmarks/run.sh              # every suite, both backends
#   sh benchmarks/run.sh --quick      # extra arguments go to minitorch-bench
set -eu
cd "$(dirname "$0")/.."
sh third_party/install-deps.sh --bench
build="${MINITORCH_BENCH_BUILD:-build-release}"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMINITORCH_BUILD_TESTS=OFF
cmake --build "$build" -j "$(nproc)"
mkdir -p benchmarks/results
"$build/benchmarks/minitorch-bench" --json benchmarks/results/latest.json --plot benchmarks/results "$@"
