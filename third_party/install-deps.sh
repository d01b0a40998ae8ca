#!/bin/sh
# Installs the Debian packages minitorch-c needs, skipping those already present.
#   third_party/install-deps.sh           build + test dependencies
#   third_party/install-deps.sh --bench   also gnuplot, for the benchmark charts
#   third_party/install-deps.sh --fuzz    also clang, its libFuzzer/sanitizer runtimes (libclang-rt-dev),
#                                         its OpenMP (libomp-dev) and llvm-symbolizer (llvm)
#   third_party/install-deps.sh --mpi     also Open MPI (openmpi-bin, libopenmpi-dev), for
#                                         libminitorch_mpi and its tests
# As root it runs apt-get; otherwise it prints the command to run and fails.
set -eu

packages="build-essential cmake pkg-config libopenblas-openmp-dev libcriterion-dev"
# zlib reads minitorch-digits' gzip-compressed data file
packages="$packages zlib1g-dev"
for option in "$@"; do
    case "$option" in
        --bench) packages="$packages gnuplot-nox" ;;
        --fuzz) packages="$packages clang libclang-rt-dev libomp-dev llvm" ;;
        --valgrind) packages="$packages valgrind" ;;
        --mpi) packages="$packages openmpi-bin libopenmpi-dev" ;;
        *) echo "install-deps.sh: unknown option $option" >&2; exit 2 ;;
    esac
done

missing=""
for package in $packages; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    case "$status" in
        *" installed") ;;
        *) missing="$missing $package" ;;
    esac
done

if [ -z "$missing" ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "minitorch-c needs these Debian packages:$missing" >&2
    echo "run: sudo apt-get install -y$missing" >&2
    exit 1
fi

echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
