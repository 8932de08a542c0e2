#!/usr/bin/env bash
# Packs what tests/gpu/adapter_smoke.sh needs into DIR (default .gpu): the
# installed runner, delegate and adapter, ExecuTorch's runtime libraries, the
# lean TensorRT runtime (xz, it is 100 MB), libcudart, and probe programs,
# keeping the site-packages layout so the installed RUNPATHs resolve.
set -euo pipefail
out=${1:-.gpu}
site=$(python3 -c "import executorch_tensorrt, os; print(os.path.dirname(os.path.dirname(executorch_tensorrt.__file__)))")
rm -rf "$out" && mkdir -p "$out/site/executorch/lib" "$out/site/tensorrt_lean_libs" "$out/site/nvidia/cu13/lib"
mkdir -p "$out/site/executorch_tensorrt" && cp -r "$site/executorch_tensorrt/lib" "$site/executorch_tensorrt/bin" "$out/site/executorch_tensorrt/"
for lib in libexecutorch.so libexecutorch_threadpool.so libexecutorch_kernels_optimized.so; do
  cp "$site/executorch/lib/$lib" "$out/site/executorch/lib/"
done
xz -T2 -6 -c "$site/tensorrt_lean_libs/libnvinfer_lean.so.11" > "$out/libnvinfer_lean.so.11.xz"
cp -L /usr/local/cuda/lib64/libcudart.so.13 "$out/site/nvidia/cu13/lib/"
python3 "$(dirname "$0")/make_probe_programs.py" "$out/programs"
du -sh "$out"
