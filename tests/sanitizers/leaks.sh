#!/usr/bin/env bash
# Heap growth over load / execute / destroy cycles, under AddressSanitizer's
# allocator with LeakSanitizer checking at exit (tests/sanitizers/leak_cycles.cpp).
#
# Usage: bash tests/sanitizers/leaks.sh [CYCLES] [BUILD_ROOT]   (default 1000)
# Last line: cycles=<N> leaked_bytes=<int>; exit status 1 on growth or a leak report.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cycles="${1:-1000}"
root="${2:-$repo/build/sanitizers}"
python=${PYTHON:-python3}

bash "$repo/tests/sanitizers/build.sh" "$root" >/dev/null
[ -f "$root/programs/add_relu.pte" ] ||
  "$python" "$repo/tests/reliability/export_programs.py" "$root/programs" >"$root/programs.log" 2>&1
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
# The delegate logs every refused blob; keep the report readable.
result=$("$root/tests/leak_cycles" "$root/programs/add_relu.pte" "$cycles" 2>"$root/leaks.log") ||
  { tail -n 30 "$root/leaks.log"; echo "leak_cycles failed (log: $root/leaks.log)"; exit 1; }
echo "$result"
case "$result" in *"leaked_bytes=0") ;; *) exit 1 ;; esac
