"""Device memory for execution contexts: private per engine vs one shared pool.

A program of N TensorRT engines separated by CPU ops (graph breaks, or one
engine per layer) is exported with the CPU test engine, each engine declaring
its execution-context (activation) memory need. The program is loaded twice
through the real delegate and ExecuTorch runtime -- `execution_memory=private`
(each context owns its memory, TensorRT's default) and `execution_memory=program`
(user-managed contexts drawing on one pool) -- and run once. The execution
memory each mode holds is MEASURED on the test engine's counting device
allocator (bytes in use after the run, minus the staging buffers the
delegates report), then checked against the delegates' own reports.

The needs are ResNet-18's ten per-layer engines (stem, eight basic blocks,
head) at batch 8, 224x224, float32, estimated as each layer's input plus
output plus one intermediate tensor. They are declared to the test engine,
not measured from TensorRT: no machine here can run a TensorRT engine, and
TensorRT-RTX engines learn their need only when compiled for a GPU at load.

Usage: python bench/shared_memory.py [--engines N]
Last line: engines=<int> private_bytes=<int> shared_bytes=<int>
"""

from __future__ import annotations

import argparse
import ctypes
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Sequence

import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
for folder in ("tests", "tests/engine"):
    sys.path.insert(0, str(REPO_ROOT / folder))

from memory_programs import export_engine_chain_program  # noqa: E402
from native_build import build_native_tests, load_test_engine  # noqa: E402

from executorch_tensorrt.option_table import BY_KEY, KEY_DEVICE_BYTES, KEY_EXECUTION_MEMORY  # noqa: E402
from executorch_tensorrt.option_table import KEY_INIT_POLICY  # noqa: E402
from executorch_tensorrt.runtime import load  # noqa: E402

BATCH = 8
FLOAT_BYTES = 4
# (layer, input elements, output elements, largest intermediate) per image.
RESNET18_LAYERS = (
    ("stem conv+pool", 3 * 224 * 224, 64 * 56 * 56, 64 * 112 * 112),
    ("layer1.0", 64 * 56 * 56, 64 * 56 * 56, 64 * 56 * 56),
    ("layer1.1", 64 * 56 * 56, 64 * 56 * 56, 64 * 56 * 56),
    ("layer2.0", 64 * 56 * 56, 128 * 28 * 28, 128 * 28 * 28),
    ("layer2.1", 128 * 28 * 28, 128 * 28 * 28, 128 * 28 * 28),
    ("layer3.0", 128 * 28 * 28, 256 * 14 * 14, 256 * 14 * 14),
    ("layer3.1", 256 * 14 * 14, 256 * 14 * 14, 256 * 14 * 14),
    ("layer4.0", 256 * 14 * 14, 512 * 7 * 7, 512 * 7 * 7),
    ("layer4.1", 512 * 7 * 7, 512 * 7 * 7, 512 * 7 * 7),
    ("head pool+fc", 512 * 7 * 7, 1000, 512),
)


def layer_needs(engines: int) -> List[int]:
    """Activation bytes per engine: the ResNet-18 layers, repeated if more
    engines are asked for than it has layers."""
    needs = []
    for k in range(engines):
        _name, inputs, outputs, intermediate = RESNET18_LAYERS[k % len(RESNET18_LAYERS)]
        needs.append((inputs + outputs + intermediate) * FLOAT_BYTES * BATCH)
    return needs


def measure(device: ctypes.CDLL, program_path: Path, mode: str, engines: int) -> Dict[str, int]:
    """Execution memory held by `program_path` under `mode` after one run."""
    before = device.etrt_test_device_bytes_in_use()
    program = load(program_path, backend_options={KEY_EXECUTION_MEMORY: mode, KEY_INIT_POLICY: "deferred"})
    x = torch.zeros(2, 3)
    outputs = program.forward(x)
    if not torch.isfinite(outputs[0]).all():
        raise RuntimeError(f"{mode}: the program produced non-finite values")
    held = device.etrt_test_device_bytes_in_use() - before
    states = program.delegate_states
    if len(states) != engines:
        raise RuntimeError(f"{mode}: expected {engines} TensorRT delegates, found {len(states)}")
    staging = sum(s["counters"]["bytes_allocated"] for s in states)  # reuse: allocated once, still held
    execution = held - staging
    if mode == "private":
        reported = sum(s[KEY_DEVICE_BYTES] for s in states)  # no weights: a context's own memory
    else:
        pools = {s["pool"]["id"]: s["pool"]["bytes"] for s in states}
        if len(pools) != 1:
            raise RuntimeError(f"{mode}: expected one pool for the program, found {len(pools)}")
        reported = next(iter(pools.values()))
    if reported != execution:
        raise RuntimeError(f"{mode}: measured {execution} bytes of execution memory, the delegates report {reported}")
    del program
    return {"execution": execution, "staging": staging}


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", type=int, default=len(RESNET18_LAYERS), help="engines in the program (default 10)")
    args = parser.parse_args(list(argv) or None)
    if not 1 <= args.engines <= 64:
        parser.error("--engines must be in 1..64")
    build_native_tests()
    device = load_test_engine()
    device.etrt_test_device_bytes_in_use.restype = ctypes.c_int64
    needs = layer_needs(args.engines)
    with tempfile.TemporaryDirectory() as tmp:
        program_path = export_engine_chain_program(Path(tmp), needs)
        print(f"{'engine':>6} {'layer':>16} {'need (bytes)':>14}")
        for k, need in enumerate(needs):
            print(f"{k:>6} {RESNET18_LAYERS[k % len(RESNET18_LAYERS)][0]:>16} {need:>14,}")
        private = measure(device, program_path, "private", args.engines)
        shared = measure(device, program_path, BY_KEY[KEY_EXECUTION_MEMORY].default, args.engines)  # program
    print(f"sum of needs {sum(needs):,} bytes; largest need {max(needs):,} bytes")
    print(f"private: {private['execution']:,} bytes of execution memory held (+{private['staging']:,} staging)")
    print(f"shared:  {shared['execution']:,} bytes of execution memory held (+{shared['staging']:,} staging)")
    print(f"engines={args.engines} private_bytes={private['execution']} shared_bytes={shared['execution']}")


if __name__ == "__main__":
    main(sys.argv[1:])
