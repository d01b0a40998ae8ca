#!/bin/sh
# The main job: builds the library in Release mode and runs the benchmark suite on both backends
# (naive vs blas vs in-binary baselines), writing tables to stdout and the results (latest.json,
# latest.txt, charts) to a folder git ignores, build-release/bench-results/ by default, so a run
# leaves the checkout unchanged. Installs missing Debian packages first (gnuplot for the charts).
#   sh benchmarks/run.sh              # every suite, both backends
#   sh benchmarks/run.sh --quick      # extra arguments go to minitorch-bench
#   sh benchmarks/run.sh --out DIR    # results to DIR instead
#   sh benchmarks/run.sh --publish    # results to benchmarks/results/, the copy README.md shows
set -eu
cd "$(dirname "$0")/.."
build="${MINITORCH_BENCH_BUILD:-build-release}"
out="$build/bench-results"

# take run.sh's own options out of the arguments, keep the rest (in order) for minitorch-bench
count=$#
while [ $count -gt 0 ]; do
    arg="$1"
    shift
    count=$((count - 1))
    case "$arg" in
        --publish) out="benchmarks/results" ;;
        --out)
            [ $count -gt 0 ] || { echo "run.sh: --out needs a directory" >&2; exit 2; }
            out="$1"; shift; count=$((count - 1)) ;;
        --out=*) out="${arg#--out=}" ;;
        *) set -- "$@" "$arg" ;;
    esac
done

sh third_party/install-deps.sh --bench
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMINITORCH_BUILD_TESTS=OFF
cmake --build "$build" -j "$(nproc)"
mkdir -p "$out"

# the tables go to the terminal and to latest.txt; the status is minitorch-bench's own
status_file="$(mktemp)"
trap 'rm -f "$status_file"' EXIT
{
    status=0
    "$build/benchmarks/minitorch-bench" --json "$out/latest.json" --plot "$out" "$@" || status=$?
    echo $status >"$status_file"
} | tee "$out/latest.txt"
status="$(cat "$status_file")"
echo "results: $out/ (latest.txt, latest.json, charts)"
if [ "$out" != benchmarks/results ]; then
    echo "(the copy README.md shows is benchmarks/results/: refresh it with sh benchmarks/run.sh --publish)"
fi
exit "$status"
