#!/usr/bin/env bash
# The C++ tests (tests/CMakeLists.txt: GoogleTest suite + test engine) built
# and run under AddressSanitizer + UndefinedBehaviorSanitizer with leak
# detection, against a delegate built the same way. Any finding aborts its
# test (halt_on_error, -fno-sanitize-recover), so ctest fails.
#
# Usage: bash tests/sanitizers/run.sh [BUILD_ROOT]
# Then the malformed-program corpus through this build's runner.
# Lines: sanitizer_tests=<int> failed=<int>, and last
#        files=<int> loads=<int> crashes=<int> unexplained=<int> pending=<int>
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
root="${1:-$repo/build/sanitizers}"
python=${PYTHON:-python3}
ctest=$("$python" -c "import cmake, os; print(os.path.join(cmake.CMAKE_BIN_DIR, 'ctest'))")

prefix=$(bash "$repo/tests/sanitizers/build.sh" "$root" | tail -n 1)
"$python" "$repo/tests/reliability/export_programs.py" "$root/programs" >"$root/programs.log" 2>&1 ||
  { cat "$root/programs.log"; exit 1; }

export ETTRT_TEST_PROGRAMS="$root/programs"
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
status=0
"$ctest" --test-dir "$root/tests" --output-on-failure --timeout 300 >"$root/ctest.log" 2>&1 || status=$?
grep -E "tests passed|SKIPPED|Failed|ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$root/ctest.log" | head -40 || true
total=$(sed -n 's/.* tests failed out of \([0-9]*\)/\1/p; s/.*% tests passed out of \([0-9]*\)/\1/p' "$root/ctest.log" | tail -n 1)
failed=$(sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' "$root/ctest.log" | tail -n 1)
[ "$status" -ne 0 ] && [ -z "$failed" ] && failed=1
echo "sanitizer_tests=${total:-0} failed=${failed:-0} (log: $root/ctest.log)"

# The malformed-program corpus through the runner of this build: a memory
# error or UB while refusing a broken file aborts the runner and counts as a
# crash. The ASan runtime is preloaded ahead of the test engine.
asan_rt="$("${CXX_SANITIZE:-clang++}" -print-file-name=libclang_rt.asan-x86_64.so)"
"$python" "$repo/tests/malformed/make_corpus.py" "$root/programs" "$root/malformed" >"$root/malformed.log" 2>&1 ||
  { cat "$root/malformed.log"; exit 1; }
"$python" "$repo/tests/malformed/check_corpus.py" "$root/malformed" --runner "$prefix/bin/executorch-tensorrt-runner" \
  --preload "$asan_rt $root/tests/libexecutorch_tensorrt_test_engine.so" >"$root/malformed-check.log" 2>&1 || status=1
grep -v "^pending" "$root/malformed-check.log" | tail -n 20
exit "$status"
