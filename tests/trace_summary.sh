#!/bin/sh
# MINITORCH_TRACE=summary: minitorch-train prints one table at exit whose calls per op, backend and
# path are exactly the per-call lines (MINITORCH_TRACE=path) of the same deterministic run, and
# whose total row is their sum. Usage: trace_summary.sh path/to/minitorch-train
set -eu
train=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
args="--epochs 3 --hidden 8 --dataset xor --log-every 1000"

MINITORCH_BACKEND=naive MINITORCH_TRACE=summary "$train" $args >/dev/null 2>"$dir/summary.txt"
MINITORCH_BACKEND=naive MINITORCH_TRACE="$dir/lines.txt" "$train" $args >/dev/null 2>&1

grep -q '^minitorch-trace summary' "$dir/summary.txt" || { echo "no summary header"; cat "$dir/summary.txt"; exit 1; }
grep -q '^matmul ' "$dir/summary.txt" || { echo "no matmul row"; cat "$dir/summary.txt"; exit 1; }

# "op backend path calls" from each source, sorted
awk '/^minitorch-trace op=/ { split($2, o, "="); split($3, b, "="); split($4, p, "=");
       n[o[2] " " b[2] " " p[2]]++ }
     END { for (k in n) print k, n[k] }' "$dir/lines.txt" | sort >"$dir/from_lines.txt"
awk 'seen && $1 != "total" && NF == 9 { print $1, $2, $3, $4 }
     /^op / { seen = 1 }' "$dir/summary.txt" | sort >"$dir/from_summary.txt"
if ! cmp -s "$dir/from_lines.txt" "$dir/from_summary.txt"; then
    echo "summary rows differ from the per-call lines:"
    diff "$dir/from_lines.txt" "$dir/from_summary.txt" || true
    cat "$dir/summary.txt"
    exit 1
fi
rows=$(wc -l <"$dir/from_summary.txt")
sum=$(awk '{ s += $4 } END { print s }' "$dir/from_summary.txt")
total=$(awk '$1 == "total" { print $2 }' "$dir/summary.txt")
[ "$sum" = "$total" ] || { echo "total row $total != sum of rows $sum"; exit 1; }
[ "$rows" -ge 3 ] || { echo "only $rows rows"; exit 1; }
echo "trace summary: $rows rows, $total calls, matching the per-call lines"
