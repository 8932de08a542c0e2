"""Execute-path cost on a GPU, with TensorRT's runtime REPLACED BY THE TEST
DOUBLE (tests/gpu/trt_double; nothing here runs TensorRT).

Runs inside a bundle made by tests/gpu/bundle.sh (run_all.sh runs it):
programs of 2 and 16 float32 [1, 256] I/O tensors (o_k = i_k * 2 + 1)
through the Python loader, ExecuTorch's runtime, the real delegate and
adapter and the double, with host I/O (CPU tensors, staged by the delegate)
and device I/O (torch CUDA tensors, device="cuda"), ``reuse`` and ``fresh``
(host: the ``output_buffers`` option; device: ``reuse_outputs``). Per case:
µs per ``execute()`` (median of --reps runs of --calls calls), CUDA
allocations per call (cudaMalloc/cudaMallocAsync counted by the preloaded
call counter). The floor: the same plan run by a bare loop of the double's
``enqueueV3`` + stream sync (double_contract floor). Python device I/O runs
on torch's current stream and returns without a host wait, so each timed
loop ends with a stream sync.

Then the C++ benchmark (tests/gpu/execute_bench.cpp, no Python in the
loop): io16 through ExecuTorch's Module on the caller's stream with
``cuda_graphs`` off and on, against a bare ``cudaGraphLaunch`` of the
double's capture of the same plan, and host I/O with ``host_staging``
pinned against pageable. Last line:
``delegate_us=... floor_us=... ratio=... allocs_per_call=... graph_us=...
bare_graph_us=... graph_over_bare=... plain_over_graph=...
pinned_speedup=... host_waits_per_call=... threads_speedup=...
threads_speedup_graphs=...`` (io2 calls per second, 4 threads on 4
execution contexts over 1 thread on 1, graphs off and on; C++).

    LD_PRELOAD=DIR/double/libcuda_call_counter.so python DIR/bench/gpu_execute.py --bundle DIR
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import torch


def mallocs() -> int:
    lib = ctypes.CDLL(None)
    if not hasattr(lib, "cuda_call_counter_get"):
        raise SystemExit("run with LD_PRELOAD=<bundle>/double/libcuda_call_counter.so (counts CUDA allocations)")
    lib.cuda_call_counter_get.restype = ctypes.c_int64
    return lib.cuda_call_counter_get(0)


def measure(call, calls: int, reps: int) -> Tuple[float, float]:
    """(median µs per call, CUDA allocations per call) after a warm-up; each
    run of ``calls`` calls ends when the GPU has finished them."""
    for _ in range(20):
        call()
    times: List[float] = []
    start_allocs = mallocs()
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1e6 / calls)
    return statistics.median(times), (mallocs() - start_allocs) / (calls * reps)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundle", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(args.bundle / "site"))
    from executorch_tensorrt.option_table import KEY_OUTPUT_BUFFERS
    from executorch_tensorrt.runtime import load

    programs = args.bundle / "programs"
    cases: Dict[str, Dict] = torch.load(programs / "cases.pt")
    results: Dict[Tuple[int, str, str], Tuple[float, float]] = {}
    for tensors in (2, 16):
        inputs = cases[f"io{tensors}"]["inputs"]
        for policy in ("reuse", "fresh"):
            host = load(programs / f"io{tensors}.pte", backend_options={KEY_OUTPUT_BUFFERS: policy})
            results[(tensors, "host", policy)] = measure(lambda: host.forward(*inputs), args.calls, args.reps)
            device = load(programs / f"io{tensors}_device.pte", device="cuda", reuse_outputs=policy == "reuse")
            cuda_inputs = [t.cuda() for t in inputs]
            results[(tensors, "device", policy)] = measure(lambda: device.forward(*cuda_inputs), args.calls, args.reps)
            out = device.forward(*cuda_inputs)
            expected = cases[f"io{tensors}"]["expected"]
            for got, want in zip(out, expected):
                torch.testing.assert_close(got.cpu(), want)
    floors = {}
    for tensors in (2, 16):
        result = subprocess.run(
            [str(args.bundle / "double" / "double_contract"), "floor", str(programs / f"io{tensors}.plan"), str(args.calls)],
            capture_output=True, text=True, check=True)
        floors[tensors] = float(result.stdout.strip().split("=")[1])
    print("TensorRT replaced by the test double; µs per execute() through the Python loader, median of "
          f"{args.reps} x {args.calls} calls, [1, 256] float32 tensors")
    print("| I/O tensors | I/O | policy | µs per call | floor µs (bare enqueueV3 + sync) | ratio | CUDA allocations per call |")
    print("|---|---|---|---|---|---|---|")
    for (tensors, io, policy), (us, allocs) in results.items():
        print(f"| {tensors} | {io} | {policy} | {us:.1f} | {floors[tensors]:.1f} | {us / floors[tensors]:.2f} | {allocs:.3f} |")
    result = subprocess.run([str(args.bundle / "double" / "execute_bench"), str(programs), str(args.calls)],
                            capture_output=True, text=True, check=True)
    native = {k: float(v) for k, v in (item.split("=") for item in result.stdout.split())}
    print("C++ (ExecuTorch Module, caller's stream, TensorRT replaced by the test double), io16 µs per call, "
          "io2 calls per second: " + " ".join(f"{k}={v:.2f}" for k, v in native.items()))
    us, allocs = results[(16, "device", "reuse")]
    print(f"delegate_us={us:.1f} floor_us={floors[16]:.1f} ratio={us / floors[16]:.2f} allocs_per_call={allocs:.3f} "
          f"graph_us={native['graph_us']:.2f} bare_graph_us={native['bare_graph_us']:.2f} "
          f"graph_over_bare={native['graph_us'] / native['bare_graph_us']:.2f} "
          f"plain_over_graph={native['plain_us'] / native['graph_us']:.2f} "
          f"pinned_speedup={native['host_pageable_us'] / native['host_pinned_us']:.2f} "
          f"host_waits_per_call={native['device_io_host_waits_per_call']:.3f} "
          f"threads_speedup={native['threads_4_calls_per_s'] / native['threads_1_calls_per_s']:.2f} "
          f"threads_speedup_graphs={native['threads_4_graphs_calls_per_s'] / native['threads_1_graphs_calls_per_s']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
