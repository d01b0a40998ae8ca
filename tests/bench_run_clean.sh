#!/bin/sh
# `sh benchmarks/run.sh` leaves the checkout as it found it: a short run (its own Release build
# in a temporary folder, one suite, --quick) must not change `git status`, and its results must
# land in the build's bench-results/ folder. Skipped (exit 77) outside a git checkout.
#   bench_run_clean.sh <source-dir>
set -eu
source="$1"
cd "$source"
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "not a git checkout: skipped"
    exit 77
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

before="$(git status --porcelain --untracked-files=all)"
MINITORCH_BENCH_BUILD="$work/build" sh benchmarks/run.sh --suite baseline --quick --repeat 1 \
    >"$work/log" 2>&1 || { cat "$work/log"; echo "FAIL: benchmarks/run.sh failed"; exit 1; }
after="$(git status --porcelain --untracked-files=all)"

status=0
if [ "$before" != "$after" ]; then
    echo "FAIL: git status changed during benchmarks/run.sh; before:"
    printf '%s\n' "$before"
    echo "after:"
    printf '%s\n' "$after"
    status=1
fi
for file in latest.json latest.txt; do
    [ -s "$work/build/bench-results/$file" ] || {
        echo "FAIL: no $file in the build's bench-results/"; status=1; }
done
grep -q "^results: $work/build/bench-results/" "$work/log" || {
    echo "FAIL: run.sh did not say where the results went"; status=1; }
[ $status -eq 0 ] && echo "bench_run_clean: the checkout is unchanged; results in the build folder"
exit $status
