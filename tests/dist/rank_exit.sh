#!/bin/sh
# rank_exit.sh MPIRUN PROGRAM: a rank that exits early makes mpirun end the whole job with a
# non-zero status within 60 s (no hang), and rank 0 never returns from the collective.
set -u
output=$(timeout 60 "$1" --allow-run-as-root --oversubscribe -np 2 "$2" 2>&1)
status=$?
echo "$output"
echo "mpirun exit status: $status"
if [ "$status" -eq 124 ]; then echo "FAIL: the job hung"; exit 1; fi
if [ "$status" -eq 0 ]; then echo "FAIL: mpirun reported success"; exit 1; fi
case "$output" in *"rank 0: mt_dist_allreduce_grads returned"*) echo "note: rank 0 got a status back" ;; esac
echo "rank exit handled: the job was torn down"
