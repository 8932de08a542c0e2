#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS each, starting from the committed
# seed corpus (tests/fuzz/corpus, copied: the run never edits it), under
# AddressSanitizer + UndefinedBehaviorSanitizer with leak detection.
#
# Usage: bash tests/fuzz/run.sh SECONDS [BUILD_ROOT]
# Last line: targets=<int> executions=<int> crashes=<int>
# Exit status: 0 when no target found a crash, 1 otherwise. Reproducers land
# in BUILD_ROOT/fuzz-artifacts/<target>/; turn each into a regression test.
set -euo pipefail
seconds=${1:?usage: tests/fuzz/run.sh SECONDS [BUILD_ROOT]}
repo="$(cd "$(dirname "$0")/../.." && pwd)"
root="${2:-$repo/build/sanitizers}"
python=${PYTHON:-python3}
cmake=$("$python" -c "import cmake, os; print(os.path.join(cmake.CMAKE_BIN_DIR, 'cmake'))")
ninja=$("$python" -c "import ninja, os; print(os.path.join(ninja.BIN_DIR, 'ninja'))")
cxx=${CXX_SANITIZE:-clang++}

prefix=$(bash "$repo/tests/sanitizers/build.sh" "$root" | tail -n 1)
asan_rt_dir="$(dirname "$("$cxx" -print-file-name=libclang_rt.asan-x86_64.so)")"
"$cmake" -S "$repo/tests/fuzz" -B "$root/fuzz" -G Ninja -DCMAKE_MAKE_PROGRAM="$ninja" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined -shared-libasan -Wl,-rpath,$asan_rt_dir" \
  -DETTRT_PACKAGE_DIR="$prefix" -DPython_EXECUTABLE="$(command -v "$python")" >"$root/fuzz.configure.log"
"$cmake" --build "$root/fuzz" >"$root/fuzz.build.log"

export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
targets=0 executions=0 crashes=0
for target in fuzz_delegate_blob fuzz_weight_streaming_budget fuzz_delegate_options fuzz_backend_init; do
  corpus="$root/fuzz-corpus/$target" artifacts="$root/fuzz-artifacts/$target"
  rm -rf "$corpus" "$artifacts"
  mkdir -p "$corpus" "$artifacts"
  cp "$repo/tests/fuzz/corpus/$target/"* "$corpus/"
  log="$root/fuzz-$target.log"
  status=0
  # libFuzzer's link puts libstdc++ ahead of the shared ASan runtime, which
  # must come first: preload it.
  LD_PRELOAD="$asan_rt_dir/libclang_rt.asan-x86_64.so" "$root/fuzz/$target" "$corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
  found=$(find "$artifacts" -type f | wc -l)
  if [ "$status" -ne 0 ] && [ "$found" -eq 0 ]; then
    found=1 # died without writing a reproducer: still a failure
  fi
  echo "$target: executions=${runs:-0} crashes=$found (log: $log)"
  if [ "$found" -ne 0 ]; then
    grep -m 20 -E "ERROR|SUMMARY|runtime error|Test unit written" "$log" || tail -n 20 "$log"
  fi
  targets=$((targets + 1)) executions=$((executions + ${runs:-0})) crashes=$((crashes + found))
done
echo "targets=$targets executions=$executions crashes=$crashes"
[ "$crashes" -eq 0 ]
