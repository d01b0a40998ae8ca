#!/bin/sh
# A whole training run on the naive backend gives the same losses and accuracy, to the last
# digit, with OMP_NUM_THREADS = 1, 2 and 3.
#   train_determinism.sh <minitorch-train>
set -eu
train="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for threads in 1 2 3; do
    OMP_NUM_THREADS=$threads "$train" --backend naive --dataset split --pts 2000 --hidden 128 \
        --batch 1000 --epochs 15 --log-every 15 --csv "$work/$threads.csv" >/dev/null
    cut -d, -f1-4 "$work/$threads.csv" >"$work/$threads.losses" # drop the seconds column
done
cmp "$work/1.losses" "$work/2.losses"
cmp "$work/1.losses" "$work/3.losses"
echo "identical losses and accuracy for 1, 2 and 3 threads:"
tail -n 1 "$work/1.losses"
