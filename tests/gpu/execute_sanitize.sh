#!/usr/bin/env bash
# Runs the CUDA execute harness (built by tests/gpu/execute_bundle.sh into $1)
# on a GPU machine: once plainly, then under compute-sanitizer memcheck (with
# leak check), racecheck, synccheck and initcheck. Prints each tool's summary.
set -uo pipefail
bundle=$(cd "$1" && pwd)
export LD_LIBRARY_PATH="$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
harness="$bundle/cuda_execute_harness"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
"$harness"; echo "plain run rc=$?"
# The control case binds one scratch buffer to two concurrent runs without
# the pool's lease, to show the corruption the lease rules out.
HARNESS_HAZARD_CONTROL=1 "$harness" | grep -E "case control|without the lease"
for tool in "memcheck --leak-check full" racecheck synccheck initcheck; do
  echo "== compute-sanitizer --tool $tool"
  # shellcheck disable=SC2086
  compute-sanitizer --tool $tool --error-exitcode 9 "$harness" 2>&1 | grep -E "HARNESS|FAIL|ERROR SUMMARY|RACECHECK SUMMARY|LEAK SUMMARY|Invalid|Uninitialized|error" | head -20
  echo "rc=${PIPESTATUS[0]}"
done
