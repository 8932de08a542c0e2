#!/usr/bin/env bash
# Runs the real TensorRT adapter on a GPU machine (no TensorRT builder there):
# device check with a real driver, flavour refusal, TensorRT-lean deserializing
# bytes that are not an engine, a device index beyond the machine, and the same
# under compute-sanitizer. Expects the bundle made by tests/gpu/bundle.sh in $1.
set -uo pipefail
bundle=$(cd "$1" && pwd)
runner="$bundle/site/executorch_tensorrt/bin/executorch-tensorrt-runner"
lean="$bundle/site/tensorrt_lean_libs/libnvinfer_lean.so.11"
[ -f "$lean" ] || python3 -c "import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], 'wb'))" \
  "$bundle/libnvinfer_lean.so.11.xz" "$lean"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
check() {  # check NAME EXPECTED_TEXT -- COMMAND...
  local name=$1 expected=$2; shift 3
  local output; output=$("$@" 2>&1); local rc=$?
  if grep -qF -- "$expected" <<<"$output"; then echo "PASS $name (rc=$rc)"; else echo "FAIL $name (rc=$rc)"; fi
  grep -E "error:|ERROR SUMMARY|LEAK SUMMARY|TensorRT" <<<"$output" | head -5 | sed 's/^/    /'
}
check list-backends "ExecutorchTensorRTBackend" -- "$runner" --list-backends
check rtx-refused "builder flavour mismatch" -- "$runner" --model "$bundle/programs/rtx_mlp.pte"
check bogus-engine "could not deserialize the engine" -- "$runner" --model "$bundle/programs/trt_bogus.pte"
check device-7 "targets CUDA device 7" -- "$runner" --model "$bundle/programs/trt_device7.pte"
if command -v compute-sanitizer >/dev/null; then
  check memcheck-bogus "ERROR SUMMARY: 0 errors" -- compute-sanitizer --tool memcheck --leak-check full "$runner" --model "$bundle/programs/trt_bogus.pte"
fi
