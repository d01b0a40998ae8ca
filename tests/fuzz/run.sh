#!/bin/sh
# Builds the libFuzzer target (clang, AddressSanitizer + UBSan + LeakSanitizer) and fuzzes the
# public API for a bounded time on a copy of the committed corpus.
#   sh tests/fuzz/run.sh          # 60 seconds
#   sh tests/fuzz/run.sh 300      # 300 seconds
# Environment: MINITORCH_FUZZ_BUILD (build dir, default build-fuzz), MINITORCH_FUZZ_JOBS (build
# jobs, default nproc). Fails on any crash, leak, sanitizer report or invariant violation (the
# reproducer is kept and its path printed); prints the number of executions.
set -eu
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
build="${MINITORCH_FUZZ_BUILD:-build-fuzz}"
jobs="${MINITORCH_FUZZ_JOBS:-$(nproc)}"
sh third_party/install-deps.sh --fuzz

mkdir -p "$build"
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMINITORCH_SANITIZE=ON -DMINITORCH_FUZZ=ON \
  -DMINITORCH_BUILD_BENCHMARKS=OFF -DMINITORCH_BUILD_EXAMPLES=OFF >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log"; exit 1; }
cmake --build "$build" -j "$jobs" --target fuzz_api

work=$(mktemp -d "${TMPDIR:-/tmp}/minitorch-fuzz.XXXXXX")
mkdir "$work/corpus" "$work/artifacts"
cp tests/fuzz/corpus/* "$work/corpus/"
echo "fuzzing for ${seconds}s; corpus copy and artifacts in $work"

set +e
ASAN_OPTIONS="allocator_may_return_null=1:detect_leaks=1" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  "$build/tests/fuzz/fuzz_api" -max_len=512 -max_total_time="$seconds" -timeout=20 \
  -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
  "$work/corpus" >"$work/log" 2>&1
status=$?
set -e

executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
tail -n 25 "$work/log"
echo "executions: ${executions:-unknown} (log: $work/log)"
if [ "$status" -ne 0 ] || ls "$work/artifacts/"* >/dev/null 2>&1 ||
   grep -Eq "ERROR: [A-Za-z]+Sanitizer|SUMMARY: [A-Za-z]+Sanitizer|runtime error:|fuzz_api finding" "$work/log"; then
  echo "FUZZING FOUND A PROBLEM (exit status $status); reproducers:" >&2
  ls -l "$work/artifacts/" >&2
  exit 1
fi
echo "no findings"
