#!/usr/bin/env bash
# Packs, on this CPU machine, everything the GPU checks need into DIR
# (default .gpu/rig): the installed package (runner, delegate, adapter,
# Python loader with its extension rebuilt for the GPU machine's CPython
# 3.12), ExecuTorch's runtime libraries, libcudart, the TensorRT runtime
# DOUBLE (tests/gpu/trt_double: a test double, NOT TensorRT; built here with
# nvcc for sm_90 + PTX) with its contract checks and CUDA call counter, the
# programs exported here (the GPU machine has no exporter), and the scripts.
# Then, on the GPU machine: bash DIR/run_all.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-.gpu/rig}
python=${PYTHON:-python3}
gpu_python=${GPU_BUILD_PYTHON:-/root/.pyenv/versions/3.12.1/bin/python3.12}  # CPython of the GPU machine
cuda=${CUDA_HOME:-/usr/local/cuda}
site=$("$python" -c "import executorch_tensorrt, os; print(os.path.dirname(os.path.dirname(executorch_tensorrt.__file__)))")
et=$("$python" -c "import executorch; print(list(executorch.__path__)[0])")
rm -rf "$out" && mkdir -p "$out/site/executorch/lib" "$out/site/nvidia/cu13/lib" "$out/double" "$out/bench"
out=$(cd "$out" && pwd)

# The installed package, without the CPython 3.11 extension and caches.
cp -r "$site/executorch_tensorrt" "$out/site/"
# An editable install (pip install -e) keeps its compiled parts (lib/, bin/) apart from the sources.
pkg=$("$python" -c "import executorch_tensorrt._native as n; print(n.PACKAGE_DIR)")
[ "$pkg" -ef "$site/executorch_tensorrt" ] || cp -r "$pkg/." "$out/site/executorch_tensorrt/"
find "$out/site/executorch_tensorrt" \( -name "__pycache__" -o -name "_runtime.cpython-*.so" \) -prune -exec rm -rf {} +
for lib in libexecutorch.so libexecutorch_threadpool.so libexecutorch_kernels_optimized.so; do
  cp "$et/lib/$lib" "$out/site/executorch/lib/"
done
cp -L "$cuda/lib64/libcudart.so.13" "$out/site/nvidia/cu13/lib/"
# flatbuffers (pure Python): tests/large_programs.py reads and rewrites programs with it on the GPU machine.
cp -r "$("$python" -c "import flatbuffers, os; print(os.path.dirname(flatbuffers.__file__))")" "$out/site/"

# The Python extension for the GPU machine's CPython (same sources as the wheel's).
py_include=$("$gpu_python" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
pybind_include=$("$gpu_python" -c "import pybind11; print(pybind11.get_include())")
suffix=$("$gpu_python" -c "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))")
# The option table's C++ header, generated as the package build does (cmake/OptionTable.cmake).
generated=$(mktemp -d)
"$python" "$repo/python/executorch_tensorrt/option_table.py" --cpp-header "$generated/option_table.h"
g++ -std=c++17 -O2 -shared -fPIC -fvisibility=hidden \
  -DC10_USING_CUSTOM_GENERATED_MACROS -DET_EVENT_TRACER_ENABLED -DET_USE_THREADPOOL \
  -I"$repo/backend" -I"$generated" -I"$et/include" -I"$et/include/executorch/runtime/core/portable_type/c10" \
  -I"$py_include" -I"$pybind_include" \
  "$repo"/runtime/pybind/*.cpp "$repo"/runtime/support/*.cpp \
  -o "$out/site/executorch_tensorrt/runtime/_runtime$suffix" \
  -L"$out/site/executorch_tensorrt/lib" -L"$et/lib" -Wl,--no-as-needed \
  -lexecutorch_tensorrt_delegate -lexecutorch_kernels_optimized -lexecutorch_threadpool -lexecutorch \
  -Wl,-rpath,'$ORIGIN/../lib:$ORIGIN/../../executorch/lib'

# The double (as libnvinfer_lean.so.11, found first through LD_LIBRARY_PATH),
# its contract checks and the CUDA call counter.
bash "$here/trt_double/build.sh" "$out/double"

# The C++ execute benchmark (bench/gpu_execute.py runs it): ExecuTorch's
# Module, the delegate, and the double directly for its floor.
trt_include=${TensorRT_ROOT:-$repo/../shared/third_party/tensorrt}/include
g++ -std=c++17 -O2 \
  -DC10_USING_CUSTOM_GENERATED_MACROS -DET_EVENT_TRACER_ENABLED -DET_USE_THREADPOOL \
  -I"$repo/backend" -I"$repo/runtime" -I"$generated" -I"$et/include" -I"$et/include/executorch/runtime/core/portable_type/c10" \
  -isystem "$trt_include" -I"$cuda/include" \
  "$here/execute_bench.cpp" "$repo/runtime/support/backend_option_list.cpp" -o "$out/double/execute_bench" \
  -L"$out/site/executorch_tensorrt/lib" -L"$et/lib" -L"$out/double" -L"$cuda/lib64" -Wl,--no-as-needed \
  -lexecutorch_tensorrt_delegate -lexecutorch_kernels_optimized -lexecutorch_threadpool -lexecutorch \
  -l:libnvinfer_lean.so.11 -lcudart -lpthread \
  -Wl,-rpath,'$ORIGIN:$ORIGIN/../site/executorch_tensorrt/lib:$ORIGIN/../site/executorch/lib:$ORIGIN/../site/nvidia/cu13/lib'

# GPU_RIG_PROGRAMS: a folder make_programs.py wrote before (export takes minutes).
if [ -n "${GPU_RIG_PROGRAMS:-}" ]; then
  cp -r "$GPU_RIG_PROGRAMS" "$out/programs"
else
  PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" "$python" "$here/make_programs.py" "$out/programs"
fi
cp "$here/run_all.sh" "$here/gpu_checks.py" "$repo/tests/large_programs.py" "$out/"
cp "$repo/bench/gpu_execute.py" "$repo/bench/gpu_threads.py" "$repo/bench/deferred_load.py" "$out/bench/"
du -sh "$out"
