#!/usr/bin/env bash
# Builds the delegate (and runner, loader, TensorRT adapter) with clang under
# AddressSanitizer + UndefinedBehaviorSanitizer into an install prefix, then
# the C++ tests (tests/CMakeLists.txt: they compile the delegate again from
# sources, the test engine for the runner links the prefix).
#
# The same build serves the fuzzers (tests/fuzz): `fuzzer-no-link` adds the
# coverage instrumentation libFuzzer needs and is inert in the test binaries,
# so CI compiles the delegate once for both.
#
# Usage: tests/sanitizers/build.sh [BUILD_ROOT]   (default: build/sanitizers)
# Prints the install prefix as its last line.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
root="$(mkdir -p "${1:-$repo/build/sanitizers}" && cd "${1:-$repo/build/sanitizers}" && pwd)"
python=${PYTHON:-python3}
cmake=$("$python" -c "import cmake, os; print(os.path.join(cmake.CMAKE_BIN_DIR, 'cmake'))")
ninja=$("$python" -c "import ninja, os; print(os.path.join(ninja.BIN_DIR, 'ninja'))")
cxx=${CXX_SANITIZE:-clang++}
command -v "$cxx" >/dev/null || { echo "error: $cxx not found; install clang (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }

# SANITIZE_MODE=address (default): AddressSanitizer + UBSan (+ LeakSanitizer
# at exit); -fno-sanitize-recover makes every UBSan finding abort the run.
# SANITIZE_MODE=thread: ThreadSanitizer, for the concurrency tests.
# Either way one shared sanitizer runtime serves executables and libraries:
# the delegate and the TensorRT adapter are shared libraries linked with
# -Wl,--no-undefined, so they must resolve the sanitizer symbols at link time.
case "${SANITIZE_MODE:-address}" in
  address)
    flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1 -fsanitize=fuzzer-no-link"
    runtime="$("$cxx" -print-file-name=libclang_rt.asan-x86_64.so)"
    link="-fsanitize=address,undefined -shared-libasan" ;;
  thread)
    # clang 14's shared TSan runtime crashes at start-up, so executables carry
    # it statically and the TensorRT adapter (--no-undefined) is left out: the
    # concurrency tests run the test engine only.
    flags="-fsanitize=thread -fno-omit-frame-pointer -g -O1"
    link="-fsanitize=thread"
    trt_root="$root/no-tensorrt" ;;
  *) echo "error: SANITIZE_MODE must be address or thread" >&2; exit 2 ;;
esac
[ -z "${runtime:-}" ] || link="$link -Wl,-rpath,$(dirname "$runtime")"
prefix="$root/install"
trt_root="${trt_root:-${TensorRT_ROOT:-$repo/../shared/third_party/tensorrt}}"

# Each step logs to a file; a failing step shows the end of its log.
step() {
  local log="$root/$1.log"
  shift
  "$@" >"$log" 2>&1 || { tail -n 40 "$log" >&2; echo "error: $* failed (log: $log)" >&2; exit 1; }
}

step delegate.configure "$cmake" -S "$repo" -B "$root/delegate" -G Ninja -DCMAKE_MAKE_PROGRAM="$ninja" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="$link" -DCMAKE_SHARED_LINKER_FLAGS="$link" -DCMAKE_MODULE_LINKER_FLAGS="$link" \
  -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DTensorRT_ROOT="$trt_root" \
  -DPython_EXECUTABLE="$(command -v "$python")" \
  -Dpybind11_DIR="$("$python" -m pybind11 --cmakedir)"
step delegate.build "$cmake" --build "$root/delegate"
step delegate.install "$cmake" --install "$root/delegate"

step tests.configure "$cmake" -S "$repo/tests" -B "$root/tests" -G Ninja -DCMAKE_MAKE_PROGRAM="$ninja" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="$link" -DCMAKE_SHARED_LINKER_FLAGS="$link" -DCMAKE_MODULE_LINKER_FLAGS="$link" \
  -DETTRT_PACKAGE_DIR="$prefix" \
  -DTensorRT_ROOT="$trt_root" \
  -DPython_EXECUTABLE="$(command -v "$python")"
step tests.build "$cmake" --build "$root/tests"
echo "$prefix"
