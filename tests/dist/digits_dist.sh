#!/bin/sh
# minitorch-digits --distributed under mpirun (shared memory only).
#   digits_dist.sh MODE <mpirun> <minitorch-digits> <get-digits.sh> <data dir>
# The data file is fetched into <data dir> first (as in tests/digits_test.sh); when apt-get
# download is impossible here the test exits 77 (skipped) saying why.
#   repro     -np 2: exit 0, identical parameters on both ranks; a second run is bitwise the same
#   single    the split is the single process's: -np 1 reproduces the plain run line for line;
#             -np 2 with one-row batches (rank 1 always empty) is bitwise the plain run; -np 2
#             and -np 3 see the same losses and accuracies as the plain run at fixed parameters
#   resume    -np 2 --save (rank 0 writes), --load on every rank: the same as one straight run;
#             a plain run resumes the checkpoint too
#   failures  one rank without its data file, or with another checkpoint: every rank stops, no hang
set -eu
mode="$1"
mpirun="$2"
program="$3"
fetch="$4"
data_dir="$5"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

status=0
sh "$fetch" "$data_dir" >"$work/fetch.log" 2>&1 || status=$?
if [ "$status" -eq 3 ]; then
    echo "SKIPPED: the digits cannot be fetched on this machine:"
    cat "$work/fetch.log"
    exit 77
fi
[ "$status" -eq 0 ] || { cat "$work/fetch.log"; exit 1; }
data="$data_dir/digits.csv.gz"

# mpi NP OUT ARGS...: minitorch-digits --distributed on NP ranks (at most 120 s), output in OUT
mpi() {
    np="$1" out="$2"
    shift 2
    timeout 120 "$mpirun" --allow-run-as-root --oversubscribe -np "$np" \
        "$program" --distributed --data "$data" --backend naive "$@" >"$out" 2>&1 ||
        { cat "$out"; echo "FAIL: mpirun -np $np minitorch-digits --distributed $*"; exit 1; }
}
plain() {
    out="$1"
    shift
    "$program" --data "$data" --backend naive "$@" >"$out" 2>&1 ||
        { cat "$out"; echo "FAIL: minitorch-digits $*"; exit 1; }
}
checksum() { sed -n 's/^parameters: checksum \([0-9a-f]*\) .*/\1/p' "$1"; }
# every output line that does not depend on timing or on the number of ranks: the epochs' loss
# and accuracies, the confusion matrix, the test accuracy, the checksum
results() {
    grep -v '^distributed:' "$1" | sed -e 's/  *[0-9.]* ms\/epoch$//' \
        -e 's/^\(summary: test accuracy [^,]*\),.*/\1/' -e 's/, identical on all [0-9]* ranks$//'
}
same_results() { # FILE FILE WHAT
    results "$1" >"$work/a"
    results "$2" >"$work/b"
    diff "$work/a" "$work/b" || { echo "FAIL: not $3"; exit 1; }
    echo "ok: $3"
}
identical_on() { # FILE NP
    grep -q "^parameters: checksum [0-9a-f]* after epoch [0-9]*, identical on all $2 ranks$" "$1" ||
        { cat "$1"; echo "FAIL: no 'identical on all $2 ranks' line"; exit 1; }
}

case "$mode" in
repro)
    mpi 2 "$work/first" --limit 400 --epochs 2
    cat "$work/first"
    identical_on "$work/first" 2
    mpi 2 "$work/second" --limit 400 --epochs 2
    same_results "$work/first" "$work/second" "two -np 2 runs are bitwise the same (checksum $(checksum "$work/first"))"
    ;;
single)
    # One rank: the same rows, masks and steps as the plain run, so the same bits everywhere.
    plain "$work/plain" --limit 400 --epochs 2
    mpi 1 "$work/one" --limit 400 --epochs 2
    identical_on "$work/one" 1
    same_results "$work/plain" "$work/one" "-np 1 is line for line the plain run"
    # Batches of one row on two ranks: rank 0 takes every row, rank 1 none. Rank 0's loss is
    # scaled by rows * size / count = 2 and the average halves the sum 2g + 0: powers of two,
    # exact in floating point, so every gradient is the plain run's bit for bit (also with
    # fused multiply-adds) and so are the Adam steps. 161 training rows, one epoch.
    plain "$work/plain1" --limit 201 --epochs 1 --batch 1
    mpi 2 "$work/two1" --limit 201 --epochs 1 --batch 1
    identical_on "$work/two1" 2
    same_results "$work/plain1" "$work/two1" "-np 2 with batches of one row is bitwise the plain run"
    # Batches of 5 rows cut 3 + 2 (-np 2) or 2 + 2 + 1 (-np 3), the last batch of 1 row leaving
    # ranks empty, from the parameters of 3 plain epochs (about 70% right). lr 1e-30 keeps every
    # parameter as it is (|update| <= lr * 3.2 is far below half an ulp of any parameter), so
    # every step is the same forward pass as the plain run's, row for row and with the same
    # dropout mask elements; only the grouping of the loss sums differs. A step's loss L is a
    # float mean over 5 rows in the plain run and two or three float means recombined in double
    # here: each at most about 5 roundings, |difference| <= 16 * 2^-24 * L; the epoch's mean of
    # the steps keeps that bound, and printing with 6 decimals adds up to 1e-6. (Multiplying
    # one rank's rows by the wrong rows of the masks moved the loss by 4e-3.) The
    # accuracies (the same parameters; each row predicted by one rank) must be equal, and so
    # must the checksums.
    plain "$work/trained" --limit 401 --epochs 3 --save "$work/trained.safetensors"
    plain "$work/plain5" --limit 401 --epochs 5 --batch 5 --lr 1e-30 --load "$work/trained.safetensors"
    for np in 2 3; do
        mpi "$np" "$work/np5" --limit 401 --epochs 5 --batch 5 --lr 1e-30 --load "$work/trained.safetensors"
        identical_on "$work/np5" "$np"
        awk -v np="$np" '
            FNR == 1 { file++ }
            /^epoch/ { loss[file, $2] = $4; acc[file, $2] = $6 " " $8; epochs = $2 }
            /^parameters:/ { sum[file] = $3 }
            END {
                if (epochs != 5) { print "FAIL: -np " np ": not up to epoch 5"; exit 1 }
                for (e = 4; e <= epochs; e++) {
                    d = loss[1, e] - loss[2, e]; if (d < 0) d = -d
                    tol = 1e-6 + 16 * loss[1, e] / 16777216
                    printf "-np %d epoch %d: loss %s vs %s (|difference| %.2g, bound %.2g), accuracies %s vs %s\n",
                        np, e, loss[1, e], loss[2, e], d, tol, acc[1, e], acc[2, e]
                    if (d > tol || acc[1, e] != acc[2, e]) { print "FAIL: -np " np " differs"; exit 1 }
                }
                if (sum[1] != sum[2]) { print "FAIL: -np " np ": checksum " sum[2] " != " sum[1]; exit 1 }
            }' "$work/plain5" "$work/np5"
        echo "ok: -np $np sees the plain run's rows and masks"
    done
    ;;
resume)
    mpi 2 "$work/straight" --limit 400 --epochs 3
    mpi 2 "$work/first" --limit 400 --epochs 2 --save "$work/ck.safetensors"
    [ -s "$work/ck.safetensors" ] || { echo "FAIL: rank 0 wrote no checkpoint"; exit 1; }
    mpi 2 "$work/resumed" --limit 400 --epochs 3 --load "$work/ck.safetensors"
    grep -q "^resumed from .* after epoch 2$" "$work/resumed" || { cat "$work/resumed"; echo "FAIL: not resumed"; exit 1; }
    identical_on "$work/resumed" 2
    a="$(checksum "$work/straight")" b="$(checksum "$work/resumed")"
    echo "3 epochs: $a; 2 + save + load + 1: $b"
    [ -n "$a" ] && [ "$a" = "$b" ] || { echo "FAIL: the resumed run differs"; exit 1; }
    echo "ok: -np 2 resumes exactly"
    # the dropout counters advance as in a single process: a plain run resumes the checkpoint too
    plain "$work/plain" --limit 400 --epochs 3 --load "$work/ck.safetensors"
    grep -q "^resumed from .* after epoch 2$" "$work/plain" || { cat "$work/plain"; echo "FAIL: plain resume"; exit 1; }
    echo "ok: a plain run resumes the -np 2 checkpoint"
    ;;
failures)
    # expect OUT PATTERN...: mpirun failed (not a timeout) and OUT has each pattern
    expect() {
        out="$1"
        shift
        [ "$status" -ne 0 ] && [ "$status" -ne 124 ] ||
            { cat "$out"; echo "FAIL: mpirun exit status $status (want a failure, not 0 or a timeout)"; exit 1; }
        for pattern in "$@"; do
            grep -q -- "$pattern" "$out" || { cat "$out"; echo "FAIL: no line matching: $pattern"; exit 1; }
        done
    }
    run="$program --distributed --backend naive --limit 400 --epochs 2"
    # rank 1 has no data file
    status=0
    timeout 120 "$mpirun" --allow-run-as-root --oversubscribe -np 1 $run --data "$data" \
        : -np 1 $run --data "$work/nowhere/digits.csv.gz" >"$work/out" 2>&1 || status=$?
    expect "$work/out" "no data file $work/nowhere/digits.csv.gz" "rank 0 stops: another rank failed"
    echo "ok: a rank without data stops every rank (mpirun status $status)"
    # the ranks load different checkpoints
    plain "$work/plain" --limit 400 --epochs 1 --save "$work/one.safetensors"
    plain "$work/plain" --limit 400 --epochs 2 --save "$work/two.safetensors"
    status=0
    timeout 120 "$mpirun" --allow-run-as-root --oversubscribe -np 1 $run --data "$data" --load "$work/one.safetensors" \
        : -np 1 $run --data "$data" --load "$work/two.safetensors" >"$work/out" 2>&1 || status=$?
    expect "$work/out" "the ranks resumed from different checkpoints"
    echo "ok: different checkpoints on the ranks are refused (mpirun status $status)"
    ;;
*)
    echo "digits_dist.sh: unknown mode $mode" >&2
    exit 2
    ;;
esac
