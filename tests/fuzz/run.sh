#!/bin/sh
# Builds the libFuzzer targets (clang, AddressSanitizer + UBSan + LeakSanitizer) and fuzzes, for a
# bounded time split between them, the public API (fuzz_api, on a copy of tests/fuzz/corpus) and
# the safetensors reader (fuzz_safetensors, on a copy of tests/fuzz/corpus_safetensors).
#   sh tests/fuzz/run.sh          # 60 seconds in all: 30 per target
#   sh tests/fuzz/run.sh 300      # 300 seconds in all
# Environment: MINITORCH_FUZZ_BUILD (build dir, default build-fuzz), MINITORCH_FUZZ_JOBS (build
# jobs, default nproc). Fails on any crash, leak, sanitizer report or invariant violation (the
# reproducer is kept and its path printed); prints the number of executions of each target.
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
cmake --build "$build" -j "$jobs" --target fuzz_api fuzz_safetensors

work=$(mktemp -d "${TMPDIR:-/tmp}/minitorch-fuzz.XXXXXX")
half=$(( (seconds + 1) / 2 ))

# fuzz TARGET CORPUS MAX_LEN SECONDS: fuzzes one target; returns non-zero on a finding.
fuzz() {
  target=$1 corpus=$2 max_len=$3 time=$4
  mkdir "$work/$target" "$work/$target/corpus" "$work/$target/artifacts"
  cp "$corpus"/* "$work/$target/corpus/"
  echo "fuzzing $target for ${time}s; corpus copy and artifacts in $work/$target"
  set +e
  ASAN_OPTIONS="allocator_may_return_null=1:detect_leaks=1" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    "$build/tests/fuzz/$target" -max_len="$max_len" -max_total_time="$time" -timeout=20 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/$target/artifacts/" \
    "$work/$target/corpus" >"$work/$target/log" 2>&1
  status=$?
  set -e
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$target/log" | tail -n 1)
  tail -n 25 "$work/$target/log"
  echo "$target executions: ${executions:-unknown} (log: $work/$target/log)"
  if [ "$status" -ne 0 ] || ls "$work/$target/artifacts/"* >/dev/null 2>&1 ||
     grep -Eq "ERROR: [A-Za-z]+Sanitizer|SUMMARY: [A-Za-z]+Sanitizer|runtime error:|$target finding" "$work/$target/log"; then
    echo "FUZZING $target FOUND A PROBLEM (exit status $status); reproducers:" >&2
    ls -l "$work/$target/artifacts/" >&2
    return 1
  fi
  return 0
}

failed=0
fuzz fuzz_api tests/fuzz/corpus 512 "$half" || failed=1
fuzz fuzz_safetensors tests/fuzz/corpus_safetensors 4096 "$half" || failed=1
[ "$failed" -eq 0 ] || exit 1
echo "no findings"
