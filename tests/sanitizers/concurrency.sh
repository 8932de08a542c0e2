#!/usr/bin/env bash
# The C++ concurrency tests (tests/cpp/test_concurrency.cpp) repeated under
# ThreadSanitizer (a data race aborts the run) and under AddressSanitizer +
# UBSan. Each run is bounded by `timeout`, so a deadlock fails too.
#
# Usage: bash tests/sanitizers/concurrency.sh [REPEAT] [BUILD_ROOT]   (default 20)
# Last line: concurrency_runs=<int> failures=<int> skipped=<int>
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
repeat="${1:-20}"
root="${2:-$repo/build}"
python=${PYTHON:-python3}

SANITIZE_MODE=thread bash "$repo/tests/sanitizers/build.sh" "$root/tsan" >/dev/null
bash "$repo/tests/sanitizers/build.sh" "$root/sanitizers" >/dev/null
[ -f "$root/sanitizers/programs/add_relu.pte" ] ||
  "$python" "$repo/tests/reliability/export_programs.py" "$root/sanitizers/programs" >"$root/sanitizers/programs.log" 2>&1
export ETTRT_TEST_PROGRAMS="$root/sanitizers/programs"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
runs=0 failures=0 skipped=0
for build in tsan sanitizers; do
  log="$root/$build/concurrency.log"
  status=0
  timeout 600 "$root/$build/tests/delegate_tests" --gtest_filter='Concurrency.*' --gtest_repeat="$repeat" \
    >"$log" 2>&1 || status=$?
  ok=$(grep -cE '^\[       OK \] Concurrency\.' "$log" || true)
  failed=$(grep -cE '^\[  FAILED  \] Concurrency\.[A-Za-z]+ \(' "$log" || true)
  skip=$(grep -cE '^\[  SKIPPED \] Concurrency\.[A-Za-z]+ \(' "$log" || true)
  if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
    failed=1 # aborted by a sanitizer or the timeout
    grep -m 10 -E "ThreadSanitizer|AddressSanitizer|runtime error" "$log" || tail -n 10 "$log"
  fi
  echo "$build: passed=$ok failed=$failed skipped=$skip (log: $log)"
  runs=$((runs + ok + failed)) failures=$((failures + failed)) skipped=$((skipped + skip))
done
echo "concurrency_runs=$runs failures=$failures skipped=$skipped"
[ "$failures" -eq 0 ]
