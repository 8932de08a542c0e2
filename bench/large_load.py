"""Deferred initialization on a program past 4 GiB: load + init time and
resident memory growth, with the targets of bench/deferred_load.py.

    python bench/large_load.py [--cache DIR] [--engine-gib G] [--repeat N]

The program is large on disk but costs a few KiB: a one-engine test-engine
program (tests/engine/, x + 1) whose engine is grown to G GiB (default 4.5)
by a sparse hole after its `end` line, every size that covers it rewritten
(tests/large_programs.py). In a fresh process per repeat, with the test
engine registered (LD_PRELOAD of the library tests/ builds), the Python
runtime loads it (Module in mmap mode, the whole-program check first) with
init_policy=deferred; the figures are those of bench/deferred_load.py, the
last line the medians:

    init_ms=<float> rss_fraction=<float>

It first prints one load of the same program before it grew, as a reference:
what a first load costs in a process whatever the size. Each measuring
process then runs forward() once (outside the timing) and
checks the output, so the figures are of a program that works.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
TESTS = BENCH.parent / "tests"
sys.path[:0] = [str(BENCH), str(TESTS), str(TESTS / "engine")]  # as pytest's pythonpath (pyproject.toml)

from deferred_load import measure_in_fresh_processes, measure_once  # noqa: E402

from executorch_tensorrt.option_table import KEY_INIT_POLICY  # noqa: E402

DEFERRED = {KEY_INIT_POLICY: "deferred"}


def build_program(folder: Path, engine_bytes: int) -> Path:
    import torch

    import executorch_tensorrt
    from large_programs import enlarge_engine, is_sparse
    from memory_programs import AddOne, registered
    from test_engine_builder import EndedEngineBuilder

    folder.mkdir(parents=True, exist_ok=True)
    small = folder / "large_load_small.pte"
    with registered("test_ended", EndedEngineBuilder()) as name:
        executorch_tensorrt.save(AddOne(), small, inputs=(torch.zeros(2, 3),), engine_builder=name)
    large = enlarge_engine(small, folder / f"large_load_{engine_bytes}.pte", engine_bytes)
    if not is_sparse(large):
        large.unlink()
        raise SystemExit(f"the filesystem of {folder} does not keep sparse files; choose another --cache")
    return large


def check_forward(path: Path) -> None:
    import torch

    from executorch_tensorrt.runtime import load

    x = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    torch.testing.assert_close(load(path, backend_options=DEFERRED).forward(x)[0], x + 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get("ETTRT_BENCH_CACHE", BENCH / ".cache")))
    parser.add_argument("--engine-gib", type=float, default=4.5)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # child process mode
    args = parser.parse_args()

    if args.measure is not None:
        figures = measure_once(args.measure, DEFERRED)
        check_forward(args.measure)
        print(json.dumps(figures))
        return 0

    from native_build import TEST_ENGINE_LIBRARY, build_native_tests

    build_native_tests()
    engine_bytes = int(args.engine_gib * 2**30)
    program = args.cache / f"large_load_{engine_bytes}.pte"
    if not program.exists():
        program = build_program(args.cache, engine_bytes)
    env = dict(os.environ, LD_PRELOAD=str(TEST_ENGINE_LIBRARY))
    # The same program before it grew: what a load costs whatever the size
    # (the first load in a process), for comparison.
    small = args.cache / "large_load_small.pte"
    if small.exists():
        print("the same program before it grew (reference):")
        measure_in_fresh_processes(Path(__file__), small, 1, env)
        print(f"{program.stat().st_size / 2**30:.2f} GiB program:")
    print(measure_in_fresh_processes(Path(__file__), program, args.repeat, env))
    return 0


if __name__ == "__main__":
    sys.exit(main())
