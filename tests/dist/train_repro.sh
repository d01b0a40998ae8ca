#!/bin/sh
# train_repro.sh MPIRUN MINITORCH-TRAIN: `minitorch-train --distributed` under mpirun -np 2 ends
# with the same parameters on both ranks, and two runs give bitwise the same parameters (the
# same checksum and the same loss on every logged line).
set -u
run() {
    "$1" --allow-run-as-root --oversubscribe -np 2 "$2" --distributed --dataset xor --pts 50 \
        --hidden 16 --batch 10 --epochs 30 --log-every 10 --seed 5 2>&1
}
first=$(run "$1" "$2") || { echo "$first"; echo "FAIL: first run"; exit 1; }
second=$(run "$1" "$2") || { echo "$second"; echo "FAIL: second run"; exit 1; }
echo "$first"
sums_first=$(echo "$first" | grep -E '^parameters: checksum [0-9a-f]+, identical on all 2 ranks$')
sums_second=$(echo "$second" | grep -E '^parameters: checksum [0-9a-f]+, identical on all 2 ranks$')
losses_first=$(echo "$first" | grep '^epoch' | awk '{print $2, $4, $6}')
losses_second=$(echo "$second" | grep '^epoch' | awk '{print $2, $4, $6}')
[ -n "$sums_first" ] || { echo "FAIL: no identical-checksum line"; exit 1; }
[ "$sums_first" = "$sums_second" ] || { echo "$second"; echo "FAIL: the two runs differ"; exit 1; }
[ "$losses_first" = "$losses_second" ] || { echo "FAIL: the logged losses differ"; exit 1; }
echo "two runs bitwise identical: $sums_first"
