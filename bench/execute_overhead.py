"""Host-side overhead of the delegate's execute path, per call.

Runs the delegate's DelegateExecutor with the CPU test engine (tiny [1, 16]
float32 tensors, `o_k = copy i_k`, so the engine's arithmetic is negligible)
for 2 and 16 I/O tensors under the `reuse` and `fresh` output-buffer
policies, and prints microseconds per call and device allocations per call
(steady state, after one warm-up call). No GPU is involved: the "device" is
the test engine's simulated device memory, so these are the delegate's own
host costs (binding, checks, resizing, staging bookkeeping), not CUDA's.

Usage: python bench/execute_overhead.py [--calls N]
Last line (16-tensor case):
reuse_allocs_per_call=<float> reuse_us_per_call=<float> fresh_us_per_call=<float>
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Dict

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))

from native_build import BUILD_DIR, build_native_tests  # noqa: E402


def measure(tensors: int, policy: str, calls: int) -> Dict[str, float]:
    driver = BUILD_DIR / "execute_overhead_driver"
    result = subprocess.run([str(driver), str(tensors), policy, str(calls)], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{driver} failed: {result.stderr.strip()}")
    fields = dict(item.split("=") for item in result.stdout.split())
    return {key: float(value) for key, value in fields.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000, help="timed calls per case (default 20000)")
    args = parser.parse_args()
    if args.calls <= 0:
        parser.error("--calls must be positive")
    build_native_tests()
    results: Dict[tuple, Dict[str, float]] = {}
    print(f"{'I/O tensors':>11} {'policy':>6} {'us/call':>9} {'allocs/call':>11} {'H2D/call':>8} {'D2H/call':>8}")
    for tensors in (2, 16):
        for policy in ("reuse", "fresh"):
            # Best of three runs: the machine is shared, the minimum is the cost.
            runs = [measure(tensors, policy, args.calls) for _ in range(3)]
            best = min(runs, key=lambda r: r["us_per_call"])
            results[(tensors, policy)] = best
            print(
                f"{tensors:>11} {policy:>6} {best['us_per_call']:>9.3f} {best['allocs_per_call']:>11.3f} "
                f"{best['h2d_per_call']:>8.3f} {best['d2h_per_call']:>8.3f}"
            )
    reuse, fresh = results[(16, "reuse")], results[(16, "fresh")]
    print(
        f"reuse_allocs_per_call={reuse['allocs_per_call']:.3f} "
        f"reuse_us_per_call={reuse['us_per_call']:.3f} fresh_us_per_call={fresh['us_per_call']:.3f}"
    )


if __name__ == "__main__":
    main()
