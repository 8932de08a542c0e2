"""Deferred initialization on a ~1 GB program: load + init time and resident
memory growth, with ExecuTorch's mmap data loader and init_policy=deferred.

    python bench/deferred_load.py [--cache DIR] [--rebuild] [--repeat N]

Builds (once, on the CPU with TensorRT-RTX, about a minute) a program of four
TensorRT engines holding 1 GiB of weights between them (a sigmoid kept on the
CPU separates each 8192x8192 linear layer from the next), then, in a fresh
process per repeat, loads it with the Python runtime (Module in mmap mode).
The exporter bakes the `deferred` policy for programs with several engines;
loading runs every delegate's init(). Prints the figures of each repeat and,
as its last line, the median:

    init_ms=<float> rss_fraction=<float>

init_ms is the wall time of load() with every method loaded (Module::load,
load_method, every delegate's init()). rss_fraction is the growth of the
process's resident memory over that call divided by the file size. Nothing is
executed: on this machine no GPU can run the engines.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

# 4 linear layers of 8192 x 8192 float32 weights: 4 engines of 256 MiB.
WIDTH = 8192
LAYERS = 4
# The targets of a deferred load (README's benchmark table; bench/large_load.py
# and the GPU check of programs past 4 GiB hold to them too): init_ms below
# TARGET_INIT_MS, rss_fraction below TARGET_RSS_FRACTION.
TARGET_INIT_MS = 50.0
TARGET_RSS_FRACTION = 0.05


def build_program(path: Path) -> None:
    import torch

    import executorch_tensorrt

    class Wide(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = torch.nn.ModuleList(torch.nn.Linear(WIDTH, WIDTH) for _ in range(LAYERS))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for layer in self.layers:
                x = torch.sigmoid(layer(x))
            return x

    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with torch.no_grad():
        executorch_tensorrt.save(
            Wide().eval(), path, inputs=(torch.zeros(1, WIDTH),), engine_builder="tensorrt_rtx",
            torch_executed_ops=["aten.sigmoid.default"],
        )
    print(f"built {path} ({path.stat().st_size / 2**30:.2f} GiB) in {time.perf_counter() - started:.0f} s", flush=True)


def resident_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def measure_once(path: Path, backend_options: Optional[dict] = None) -> dict:
    """Runs in a fresh process: imports first, then times the load alone."""
    from executorch_tensorrt.option_table import KEY_DEVICE_BYTES, KEY_INIT_POLICY, KEY_STATE
    from executorch_tensorrt.runtime import load

    before = resident_bytes()
    started = time.perf_counter()
    program = load(path, backend_options=backend_options or {})
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    grown = resident_bytes() - before
    states = program.delegate_states
    assert states and all(s[KEY_STATE] == "host" and s[KEY_INIT_POLICY] == "deferred" for s in states), states
    return {
        "load_ms": elapsed_ms,
        "rss_growth_bytes": grown,
        "file_bytes": path.stat().st_size,
        "delegates": len(states),
        "device_bytes_held": sum(state[KEY_DEVICE_BYTES] for state in states),
    }


def measure_in_fresh_processes(script: Path, program: Path, repeat: int, env: Optional[dict] = None) -> str:
    """Runs ``script --measure program`` ``repeat`` times, printing each run;
    returns the figures line (medians): ``init_ms=<float> rss_fraction=<float>``."""
    runs = []
    for _ in range(repeat):
        child = subprocess.run(
            [sys.executable, str(script), "--measure", str(program)], capture_output=True, text=True, check=False, env=env
        )
        if child.returncode != 0:
            raise RuntimeError(f"the measuring process failed:\n{child.stderr}")
        run = json.loads(child.stdout.strip().splitlines()[-1])
        runs.append(run)
        print(
            f"load+init {run['load_ms']:.2f} ms, resident +{run['rss_growth_bytes'] / 2**20:.1f} MiB "
            f"for a {run['file_bytes'] / 2**30:.2f} GiB file, {run['delegates']} delegate(s), "
            f"{run['device_bytes_held']} device bytes",
            flush=True,
        )
    init_ms = statistics.median(run["load_ms"] for run in runs)
    rss_fraction = statistics.median(run["rss_growth_bytes"] / run["file_bytes"] for run in runs)
    return f"init_ms={init_ms:.3f} rss_fraction={rss_fraction:.5f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get("ETTRT_BENCH_CACHE", Path(__file__).parent / ".cache")))
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # child process mode
    args = parser.parse_args()

    if args.measure is not None:
        print(json.dumps(measure_once(args.measure)))
        return 0

    program = args.cache / f"deferred_{LAYERS}_engines_{WIDTH}.pte"
    if args.rebuild or not program.exists():
        build_program(program)
    print(measure_in_fresh_processes(Path(__file__), program, args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
