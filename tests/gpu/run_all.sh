#!/usr/bin/env bash
# The one GPU entry point, run inside a bundle made by tests/gpu/bundle.sh:
#   bash DIR/run_all.sh
# Runs, through ExecuTorch's real runtime and the real TensorRT adapter,
# with TensorRT's runtime REPLACED BY A TEST DOUBLE (DIR/double; nothing
# here runs TensorRT): the double's contract checks, the C++ runner
# (Module) and the Python loader (host and torch CUDA tensors) checks and
# programs grown past 2 GiB and 4 GiB (sparse files, deferred load: plain
# run only), the same but the large programs under compute-sanitizer
# memcheck (leak check), racecheck, synccheck and initcheck (with the C++
# execute benchmark's paths), then
# bench/gpu_execute.py and bench/gpu_threads.py. Last line:
#   gpu_checks=N failed=M sanitizer_errors=K
set -uo pipefail
bundle=$(cd "$(dirname "$0")" && pwd)
python=${GPU_PYTHON:-$(command -v /opt/torch/.venv/bin/python3 || command -v python3)}
export PYTHONPATH="$bundle/site" PYTHONUNBUFFERED=1
# The double is found first: the adapter's DT_NEEDED libnvinfer_lean.so.11.
export LD_LIBRARY_PATH="$bundle/double:$bundle/site/nvidia/cu13/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
counter="$bundle/double/libcuda_call_counter.so"
# Every log is kept in GPU_RIG_LOGS (default: a temporary folder).
log=${GPU_RIG_LOGS:-$(mktemp -d)}
mkdir -p "$log"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "TensorRT is NOT installed here; libnvinfer_lean.so.11 is the test double from tests/gpu/trt_double."

echo "== checks (plain)"
LD_PRELOAD="$counter" "$python" "$bundle/gpu_checks.py" | tee "$log/plain.txt"

sanitizer_errors=0
sanitize() {  # sanitize TOOL_ARGS... -- COMMAND...: prints the summary, adds its errors
  local label=$1; shift
  local args=(); while [ "$1" != "--" ]; do args+=("$1"); shift; done; shift
  local file="$log/san_$(echo "$label" | tr -c 'A-Za-z0-9_\n' '_').txt"
  compute-sanitizer "${args[@]}" --show-backtrace no --print-limit 20 "$@" > "$file" 2>&1
  local rc=$?
  local errors
  errors=$(grep -Eo "(ERROR|RACECHECK) SUMMARY: [0-9]+ (errors?|hazards?)" "$file" | awk '{n += $3} END {print n + 0}')
  if ! grep -Eq "(ERROR|RACECHECK) SUMMARY" "$file"; then
    errors=1; echo "    no sanitizer summary (rc=$rc)"; tail -5 "$file"
  fi
  local failed; failed=$(grep -c "^FAIL" "$file")
  echo "sanitizer $label: errors=$errors checks_failed=$failed rc=$rc $(grep -E "LEAK SUMMARY" "$file" | head -1)"
  grep -E "^FAIL|Invalid|Uninitialized|Race|Leaked|Barrier" "$file" | head -8 | sed 's/^/    /'
  sanitizer_errors=$((sanitizer_errors + errors + failed))
}
# GPU_RIG_TOOLS: a subset, to split a run across device calls. memcheck:
# the out-of-memory refusals the checks provoke are CUDA API errors the code
# handles (checked by the checks themselves), so API errors are not counted.
# Every tool: no host backtraces (capturing the Python stack keeps its
# frames, and the programs in them, alive until exit: seen as "leaks" and as
# a dropped program that frees nothing).
IFS=, read -r -a tools <<<"${GPU_RIG_TOOLS:-memcheck --leak-check full --report-api-errors no,racecheck,synccheck,initcheck}"
for tool in "${tools[@]}"; do
  echo "== compute-sanitizer --tool $tool"
  # shellcheck disable=SC2086
  sanitize "$tool contract" --tool $tool -- env TRT_DOUBLE_KERNELS_SERIALIZED=1 "$bundle/double/double_contract" gpu
  # shellcheck disable=SC2086
  sanitize "$tool runner_python" --tool $tool -- env GPU_RIG_SANITIZER=1 LD_PRELOAD="$counter" "$python" "$bundle/gpu_checks.py" \
    --only runner,python_host,python_device,bad_input_sanitized
  # The benchmark's own paths (caller's stream, graphs, pinned staging), a
  # few calls each: its figures come from code that is clean under the tool.
  # shellcheck disable=SC2086
  sanitize "$tool execute_bench" --tool $tool -- "$bundle/double/execute_bench" "$bundle/programs" 20
done

echo "== bench/gpu_execute.py (TensorRT replaced by the test double)"
LD_PRELOAD="$counter" "$python" "$bundle/bench/gpu_execute.py" --bundle "$bundle" | tee "$log/bench.txt"
bench_rc=${PIPESTATUS[0]}

echo "== bench/gpu_threads.py (TensorRT replaced by the test double)"
"$python" "$bundle/bench/gpu_threads.py" --bundle "$bundle" | tee "$log/bench_threads.txt"
threads_rc=${PIPESTATUS[0]}

checks=$(grep -Ec "^(PASS|FAIL) " "$log/plain.txt")
failed=$(grep -Ec "^FAIL " "$log/plain.txt")
[ "$bench_rc" -eq 0 ] || failed=$((failed + 1))
[ "$threads_rc" -eq 0 ] || failed=$((failed + 1))
echo "gpu_checks=$checks failed=$failed sanitizer_errors=$sanitizer_errors"
