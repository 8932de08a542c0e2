"""Calls per second of one small-engine program from 1 thread with 1
execution context and from 4 threads with ``execution_contexts=4``, on a GPU
with TensorRT's runtime REPLACED BY THE TEST DOUBLE (tests/gpu/trt_double;
nothing here runs TensorRT).

Runs inside a bundle made by tests/gpu/bundle.sh: the program of 2 float32
[1, 256] I/O tensors (o = i * 2 + 1, tests/gpu/make_programs.py) through the
Python loader, ExecuTorch's runtime, the real delegate and adapter and the
double. With ``execution_contexts=4`` the loader runs 4 method instances
whose delegates share the one deserialized engine, each call on its own
execution context and stream. Device I/O by default (torch CUDA tensors;
each call gets new output tensors: a reused output buffer would be shared by
the threads), ``--io host`` stages CPU tensors. Median of --reps runs of
--calls calls per thread. Last line:
``threads=4 contexts=4 calls_per_s_1=... calls_per_s_4=... speedup=...``

    python DIR/bench/gpu_threads.py --bundle DIR
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List

import torch

THREADS = 4


def calls_per_second(call: Callable[[], object], threads: int, calls: int, reps: int) -> float:
    """Median over `reps` of (threads * calls) / wall time, all threads started together."""
    for _ in range(20):
        call()
    rates: List[float] = []
    for _ in range(reps):
        start = threading.Barrier(threads + 1)
        errors: List[BaseException] = []

        def work() -> None:
            start.wait()
            try:
                for _ in range(calls):
                    call()
            except BaseException as err:  # noqa: BLE001 - reported below
                errors.append(err)

        pool = [threading.Thread(target=work) for _ in range(threads)]
        for thread in pool:
            thread.start()
        start.wait()
        began = time.perf_counter()
        for thread in pool:
            thread.join()
        elapsed = time.perf_counter() - began
        if errors:
            raise errors[0]
        rates.append(threads * calls / elapsed)
    return statistics.median(rates)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundle", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--io", choices=("device", "host"), default="device")
    args = parser.parse_args()
    sys.path.insert(0, str(args.bundle / "site"))
    from executorch_tensorrt.option_table import KEY_CONTEXTS_CREATED, KEY_CONTEXTS_IN_USE_PEAK, KEY_EXECUTION_CONTEXTS
    from executorch_tensorrt.runtime import load

    programs = args.bundle / "programs"
    cases: Dict[str, Dict] = torch.load(programs / "cases.pt")
    inputs, expected = cases["io2"]["inputs"], cases["io2"]["expected"]
    device = args.io == "device"
    name = "io2_device.pte" if device else "io2.pte"
    call_inputs = [t.cuda() for t in inputs] if device else inputs
    rates = {}
    for threads, contexts in ((1, 1), (THREADS, THREADS)):
        program = load(programs / name, device="cuda" if device else "cpu",
                       backend_options={KEY_EXECUTION_CONTEXTS: contexts})
        for got, want in zip(program.forward(*call_inputs), expected):
            torch.testing.assert_close(got.cpu(), want)
        rates[threads] = calls_per_second(lambda: program.forward(*call_inputs), threads, args.calls, args.reps)
        (state,) = program.delegate_states
        print(f"{threads} thread(s), execution_contexts={contexts}: {rates[threads]:.0f} calls/s "
              f"(contexts created {state[KEY_CONTEXTS_CREATED]}, at most {state[KEY_CONTEXTS_IN_USE_PEAK]} calls at once)")
        del program
    print(f"TensorRT replaced by the test double; {args.io} I/O, 2 float32 [1, 256] tensors, median of "
          f"{args.reps} x {args.calls} calls per thread")
    print(f"threads={THREADS} contexts={THREADS} calls_per_s_1={rates[1]:.0f} calls_per_s_4={rates[THREADS]:.0f} "
          f"speedup={rates[THREADS] / rates[1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
