#!/bin/sh
# Installs the build into a temporary prefix, builds examples/hello out of tree against the
# installed package both ways (CMake find_package and pkg-config), in C (hello.c) and, when a C++
# compiler is found, in C++17 (hello.cpp, -Wall -Wextra -pedantic -Werror), runs each with
# MINITORCH_BACKEND=naive and =blas, and checks that all the outputs agree.
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

cxx_flags="-Wall -Wextra -pedantic -Werror"
have_cxx=no
if command -v c++ >/dev/null 2>&1; then
    have_cxx=yes
else
    echo "no C++ compiler (c++): the C++ consumers are skipped"
fi

# 1. CMake package (hello, and hello_cpp when CMake finds a C++ compiler)
cmake -S "$source/examples/hello" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$work/prefix" \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags $cxx_flags" \
    -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
cmake --build "$work/cmake-build" >/dev/null
programs="$work/cmake-build/hello"
if [ $have_cxx = yes ]; then
    programs="$programs $work/cmake-build/hello_cpp"
    # a project that enables only C++ finds the package too
    mkdir "$work/cxx-only"
    cat >"$work/cxx-only/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.25)
project(hello_cxx_only CXX)
find_package(minitorch CONFIG REQUIRED)
add_executable(hello_cxx_only "$source/examples/hello/hello.cpp")
set_target_properties(hello_cxx_only PROPERTIES CXX_STANDARD 17 CXX_EXTENSIONS OFF)
target_link_libraries(hello_cxx_only PRIVATE minitorch::minitorch)
EOF
    cmake -S "$work/cxx-only" -B "$work/cxx-only/build" -DCMAKE_PREFIX_PATH="$work/prefix" \
        -DCMAKE_CXX_FLAGS="$flags $cxx_flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
    cmake --build "$work/cxx-only/build" >/dev/null
    programs="$programs $work/cxx-only/build/hello_cxx_only"
fi

# 2. pkg-config, one line as the README shows it (the library folder is lib/ or lib/<multiarch>/,
#    depending on how the build was configured)
libdir="$(dirname "$(find "$work/prefix" -name minitorch.pc)")/.."
libdir="$(cd "$libdir" && pwd)"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc $flags "$source/examples/hello/hello.c" $(pkg-config --cflags --libs minitorch) \
    -Wl,-rpath,"$libdir" -o "$work/hello-pc"
programs="$programs $work/hello-pc"
if [ $have_cxx = yes ]; then
    c++ -std=c++17 $cxx_flags $flags "$source/examples/hello/hello.cpp" \
        $(pkg-config --cflags --libs minitorch) -Wl,-rpath,"$libdir" -o "$work/hello-cpp-pc"
    programs="$programs $work/hello-cpp-pc"
fi

status=0
reference=""
for program in $programs; do
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
[ $status -eq 0 ] && echo "install/consumer: CMake and pkg-config builds (C, C++: $have_cxx) agree on naive and blas"
exit $status
