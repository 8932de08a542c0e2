#!/usr/bin/env bash
# Builds the CUDA execute harness (tests/gpu/execute_harness) here, on the
# CPU machine, against the INSTALLED delegate (nvcc for the kernel, sm_90 for
# H100/H200), and packs it with the libraries it loads into DIR (default
# .gpu/execute, which .git/info/exclude ignores) for
# tests/gpu/execute_sanitize.sh on a GPU machine. From the checkout the
# device tool sends:
#   bash tests/gpu/execute_bundle.sh            # here, ~20 s, 2.2 MB
#   run(command="bash tests/gpu/execute_sanitize.sh .gpu/execute", carry=[".gpu"])
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-.gpu/execute}
site=$(python3 -c "import executorch_tensorrt, os; print(os.path.dirname(os.path.dirname(executorch_tensorrt.__file__)))")
et=$(python3 -c "import executorch; print(list(executorch.__path__)[0])")
cuda=${CUDA_HOME:-/usr/local/cuda}
rm -rf "$out" && mkdir -p "$out/lib"
nvcc -std=c++17 -O2 -gencode arch=compute_90,code=sm_90 -Xcompiler -fPIC -c "$here/execute_harness/scale_kernel.cu" -o "$out/scale_kernel.o"
g++ -std=c++17 -O2 -g -Wall \
  -DC10_USING_CUSTOM_GENERATED_MACROS -DET_EVENT_TRACER_ENABLED -DET_USE_THREADPOOL \
  -I"$et/include" -I"$et/include/executorch/runtime/core/portable_type/c10" -I"$here/../../backend" -I"$cuda/include" \
  "$here/execute_harness/cuda_execute_harness.cpp" "$out/scale_kernel.o" -o "$out/cuda_execute_harness" \
  -L"$site/executorch_tensorrt/lib" -L"$et/lib" -L"$cuda/lib64" \
  -Wl,--no-as-needed -lexecutorch_tensorrt_delegate -lexecutorch -lcudart -Wl,-rpath,'$ORIGIN/lib'
cp "$site/executorch_tensorrt/lib/libexecutorch_tensorrt_delegate.so" "$out/lib/"
for lib in libexecutorch.so libexecutorch_threadpool.so; do cp "$et/lib/$lib" "$out/lib/"; done
cp -L "$cuda/lib64/libcudart.so.13" "$out/lib/"
rm "$out/scale_kernel.o"
du -sh "$out"
