#!/usr/bin/env bash
# Builds the TensorRT runtime double (a test double, NOT TensorRT) into
# OUT_DIR: libnvinfer_lean.so.11 (nvcc; sm_90 SASS for the lent H100/H200
# plus compute_90 PTX), the double_contract checks and the CUDA call
# counter. Used by tests/gpu/bundle.sh and tests/test_gpu_double.py.
#   bash tests/gpu/trt_double/build.sh OUT_DIR [--ptx-only]
# --ptx-only skips the SASS (quicker; for CI, which runs no kernel).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$1
cuda=${CUDA_HOME:-/usr/local/cuda}
trt_include=${TensorRT_ROOT:-$here/../../../../shared/third_party/tensorrt}/include
[ -f "$trt_include/NvInferRuntime.h" ] || trt_include=/work/shared/third_party/tensorrt/include
targets=(-gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90)
[ "${2:-}" = "--ptx-only" ] && targets=(-gencode arch=compute_90,code=compute_90)
mkdir -p "$out"
"$cuda/bin/nvcc" -std=c++17 -O2 -isystem "$trt_include" -Xcompiler -Wall,-Wno-deprecated-declarations,-fPIC,-fvisibility=hidden \
  "${targets[@]}" -cudart shared -shared "$here/trt_double.cu" "$here/double_plan.cpp" \
  -o "$out/libnvinfer_lean.so.11" -Xlinker -soname=libnvinfer_lean.so.11
g++ -std=c++17 -O2 -Wall -isystem "$trt_include" -I"$cuda/include" "$here/double_contract.cpp" \
  -o "$out/double_contract" -L"$out" -L"$cuda/lib64" -l:libnvinfer_lean.so.11 -lcudart -lpthread \
  -Wl,-rpath,"\$ORIGIN:\$ORIGIN/../site/nvidia/cu13/lib:$cuda/lib64"
gcc -O2 -Wall -shared -fPIC -I"$cuda/include" "$here/cuda_call_counter.c" -o "$out/libcuda_call_counter.so" -ldl
gcc -O2 -Wall -shared -fPIC "$here/crash_backtrace.c" -o "$out/libcrash_backtrace.so"
