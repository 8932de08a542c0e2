"""Acceptance run over ``bench/acceptance_cases.py``: export, load, inspect.

    python bench/acceptance.py [--models NAME,...] [--out DIR]

Each case runs in a fresh process: ``save(..., output_format="executorch",
engine_builder="tensorrt_rtx", validate=True)``, then the written ``.pte`` is
loaded with ``executorch_tensorrt.runtime.load`` (without a GPU the load, or
with a deferred init policy the first call, must be refused for lack of a
GPU and nothing else) and read by ``executorch-tensorrt inspect``. One JSON
line per case; the last line:

    cases=N exported=N validated=N loads_ok=N inspect_ok=N

``loads_ok`` counts programs that loaded and ran, or were refused only for
want of a CUDA device. A case whose export fails is listed with the error,
which should name the operator and the remedy.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Dict

HERE = Path(__file__).resolve().parent
NO_GPU = "no CUDA device is available"


def _one(name: str, out: Path) -> Dict[str, Any]:
    """In the child: one case's export, load and inspect, as a dict."""
    warnings.filterwarnings("ignore")
    sys.path.insert(0, str(HERE))
    import torch
    from acceptance_cases import CASES

    import executorch_tensorrt
    from executorch_tensorrt.runtime import load

    torch.manual_seed(0)
    model, inputs, options = CASES[name]()
    result: Dict[str, Any] = {"name": name, "parameters": sum(p.numel() for p in model.parameters())}
    path = out / f"{name}.pte"
    started = time.perf_counter()
    try:
        saved = executorch_tensorrt.save(
            model, path, inputs, output_format="executorch", engine_builder="tensorrt_rtx", validate=True, **options
        )
    except Exception as err:  # the finding is the error itself
        result["export_error"] = f"{type(err).__name__}: {err}"[:2000]
        return result
    summary = saved.summary
    validation = summary.validation
    result.update(
        export_s=round(time.perf_counter() - started, 1),
        engine_count=len(summary.engines),
        cpu_ops=[n.op for n in summary.cpu_nodes],
        validated=bool(validation is not None and validation.passed),
        max_abs=max((c.max_abs for c in validation.comparisons), default=0.0) if validation else None,
    )
    try:
        program = load(path)
        result["load"] = "loaded"
        program.forward(*inputs)
        result["run"] = "ran"
    except Exception as err:
        result["run" if "load" in result else "load"] = f"{type(err).__name__}: {err}"[:600]
    inspect = Path(sys.executable).parent / "executorch-tensorrt"
    shown = subprocess.run([str(inspect), "inspect", str(path)], capture_output=True, text=True)
    result["inspect_rc"] = shown.returncode
    return result


def _child(name: str, out: Path) -> Dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", name, "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"name": name, "crash": f"exit {done.returncode}: {tail}"}
    return json.loads(lines[-1])


def _loads_ok(result: Dict[str, Any]) -> bool:
    load, run = result.get("load", ""), result.get("run", "")
    return load == "loaded" and (run == "ran" or NO_GPU in run) or NO_GPU in load


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated case names (default: all)")
    parser.add_argument("--out", type=Path, help="directory for the .pte files (default: a temporary one)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_one(args.child, args.out)))
        return 0
    sys.path.insert(0, str(HERE))
    from acceptance_cases import CASES

    names = args.models.split(",") if args.models else list(CASES)
    with tempfile.TemporaryDirectory() as scratch:
        out = args.out or Path(scratch)
        out.mkdir(parents=True, exist_ok=True)
        results = []
        for name in names:
            results.append(_child(name, out))
            print(json.dumps(results[-1]), flush=True)
    exported = [r for r in results if "engine_count" in r]
    print(
        f"cases={len(results)} exported={len(exported)} validated={sum(r['validated'] for r in exported)} "
        f"loads_ok={sum(_loads_ok(r) for r in exported)} inspect_ok={sum(r.get('inspect_rc') == 0 for r in exported)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
