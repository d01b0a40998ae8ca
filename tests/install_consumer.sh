#!/bin/sh
# Installs the build into a temporary prefix, builds examples/hello out of tree against the
# installed package both ways (CMake find_package and pkg-config), runs each with
# MINITORCH_BACKEND=naive and =blas, and checks that the four outputs agree.
#   install_consumer.sh <build-dir> <source-dir> <sanitize ON|OFF>
set -eu
build="$1"
source="$2"
sanitize="$3"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null

flags=""
if [ "$sanitize" = ON ]; then
    # the installed library is instrumented: its consumers must load the sanitizer runtimes
    flags="-fsanitize=address,undefined"
fi

# 1. CMake package
cmake -S "$source/examples/hello" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$work/prefix" \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
cmake --build "$work/cmake-build" >/dev/null

# 2. pkg-config, one line as the README shows it
PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" \
    cc $flags "$source/examples/hello/hello.c" $(PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" \
    pkg-config --cflags --libs minitorch) -Wl,-rpath,"$work/prefix/lib" -o "$work/hello-pc"

status=0
reference=""
for program in "$work/cmake-build/hello" "$work/hello-pc"; do
    for backend in naive blas; do
        out="$(MINITORCH_BACKEND=$backend "$program" | grep -v '^backend:')" || {
            echo "FAIL: $program with $backend exited with an error"; status=1; continue; }
        MINITORCH_BACKEND=$backend "$program" | grep -q "^backend: $backend$" || {
            echo "FAIL: $program did not run on $backend"; status=1; }
        if [ -z "$reference" ]; then
            reference="$out"
            printf '%s\n' "$out"
        elif [ "$out" != "$reference" ]; then
            echo "FAIL: $program on $backend printed something else:"; printf '%s\n' "$out"; status=1
        fi
    done
done
[ $status -eq 0 ] && echo "install/consumer: CMake and pkg-config builds agree on naive and blas"
exit $status
