#!/bin/sh
# Builds the test configuration (AddressSanitizer + UndefinedBehaviorSanitizer, warnings as
# errors) and runs every test suite on both backends. Installs missing Debian packages first.
#   sh tests/run.sh                 # everything
#   sh tests/run.sh -R test_ops     # extra arguments go to ctest
set -eu
cd "$(dirname "$0")/.."
sh third_party/install-deps.sh
build="${MINITORCH_TEST_BUILD:-build-test}"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMINITORCH_SANITIZE=ON -DMINITORCH_WERROR=ON
cmake --build "$build" -j "$(nproc)"
cd "$build"
ctest --output-on-failure -j "$(nproc)" "$@"
