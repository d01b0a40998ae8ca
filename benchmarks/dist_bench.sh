#!/bin/sh
# Data-parallel training on this machine: the 5000-point, hidden-256 full-batch epoch (MiniTorch
# Task 3.5 network, blas backend) as 1 rank x 2 threads and as 2 ranks x 1 thread, with the
# gradient all-reduce's time and bytes per step. Builds Release with MPI, runs under
# flock /tmp/minitorch-bench.lock, REPEATS runs of EPOCHS epochs each; prints every run's line
# and the median of the runs' medians.
#   sh benchmarks/dist_bench.sh [REPEATS] [EPOCHS]
set -eu
cd "$(dirname "$0")/.."
sh third_party/install-deps.sh --mpi
repeats="${1:-5}"
epochs="${2:-30}"
build="${MINITORCH_BENCH_BUILD:-build-release}"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMINITORCH_BUILD_TESTS=OFF -DMINITORCH_MPI=ON >/dev/null
cmake --build "$build" -j "$(nproc)" --target minitorch-dist-bench >/dev/null
bench="$build/benchmarks/minitorch-dist-bench"
# Loopback only: shared memory between the ranks. No binding: the ranks' threads share the cores.
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none MINITORCH_BACKEND=blas
mpirun="mpirun --allow-run-as-root --oversubscribe --bind-to none"

config() { # ranks threads
    i=0
    while [ "$i" -lt "$repeats" ]; do
        OMP_NUM_THREADS="$2" flock /tmp/minitorch-bench.lock $mpirun -np "$1" "$bench" --epochs "$epochs"
        i=$((i + 1))
    done
}
median_of() { # field name, lines on stdin
    tr ' ' '\n' | sed -n "s/^$1=//p" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'
}
for setup in "1 2" "2 1"; do
    set -- $setup
    lines=$(config "$1" "$2")
    echo "$lines"
    printf 'median of %s runs, %s rank(s) x %s thread(s): epoch %s ms, compute %s ms, all-reduce %s ms, sgd %s ms, %s gradient bytes per step\n' \
        "$repeats" "$1" "$2" "$(echo "$lines" | median_of epoch_ms)" "$(echo "$lines" | median_of compute_ms)" \
        "$(echo "$lines" | median_of allreduce_ms)" "$(echo "$lines" | median_of sgd_ms)" \
        "$(echo "$lines" | median_of grad_bytes)"
done
