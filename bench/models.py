"""Model zoo export benchmark on the CPU with TensorRT-RTX.

    python bench/models.py [--models NAME,...] [--no-validate] [--out DIR]

Exports each architecture of ``bench/zoo.py`` (ResNet-18, ViT-B/16, BERT-base,
GPT-2, T5-small encoder-decoder, an MLP with a forced graph break; random
weights, nothing downloaded) to a ``.pte`` with ``engine_builder="tensorrt_rtx"``
and ``validate=True``, each in a fresh process so its peak RSS is its own.
Per model it prints the export's seconds by phase, engines, operators left
on the CPU, file size, peak RSS (of the export and its validation) and the
largest validation errors. Its last line:

    models=N exported=N validated=N

``exported``: exports that wrote their file; ``validated``: of those, the ones
whose every checked output was within tolerance (engines cannot run without a
GPU, so the partitions' ONNX in ONNX Runtime and the whole program with them
are what is compared here).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Dict, List

HERE = Path(__file__).resolve().parent


def _export_one(name: str, out: Path, validate: bool) -> Dict[str, Any]:
    """Runs in the child process: one export, its figures as a dict."""
    import torch

    sys.path.insert(0, str(HERE))
    from zoo import ZOO

    from executorch_tensorrt.exporter import save

    torch.manual_seed(0)
    model, inputs, options = ZOO[name]()
    started = time.perf_counter()
    with torch.no_grad():
        saved = save(
            model.eval(), out / f"{name}.pte", inputs, engine_builder="tensorrt_rtx", validate=validate, **options
        )
    path, summary = saved.path, saved.summary
    seconds = time.perf_counter() - started
    validation = summary.validation
    phases = {f: round(getattr(summary.phases, f), 2) for f in summary.phases.__dataclass_fields__}
    return {
        "seconds": round(seconds, 2),
        "phases": phases,
        "outside_builder": round(summary.phases.outside_builder, 2),
        "engine_count": len(summary.engines),
        "cpu_ops": len(summary.cpu_nodes),
        "file_bytes": path.stat().st_size,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "validated": bool(validation is not None and validation.passed),
        "max_abs": max((c.max_abs for c in validation.comparisons), default=0.0) if validation else None,
        "max_rel": max((c.max_rel for c in validation.comparisons), default=0.0) if validation else None,
    }


def _child(name: str, out: Path, validate: bool) -> Dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", name, "--out", str(out)]
    if not validate:
        command.append("--no-validate")
    result = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        tail = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"error": f"exit {result.returncode}: {tail}"}
    return json.loads(lines[-1])


def _line(name: str, figures: Dict[str, Any]) -> str:
    if "error" in figures:
        return f"{name}: FAILED {figures['error']}"
    phases = figures["phases"]
    shown = ", ".join(f"{k.replace('_', ' ')} {v:.1f}" for k, v in phases.items() if v)
    mib = figures["file_bytes"] / 2**20
    rss = figures["peak_rss_bytes"] / 2**20
    errors = (
        f"max abs {figures['max_abs']:.2g}, max rel {figures['max_rel']:.2g} "
        f"[{'ok' if figures['validated'] else 'FAIL'}]"
        if figures["max_abs"] is not None
        else "not validated"
    )
    return (
        f"{name}: {figures['seconds']:.1f} s ({shown}; outside the builder {figures['outside_builder']:.1f}), "
        f"{figures['engine_count']} engine(s), {figures['cpu_ops']} CPU op(s), {mib:.1f} MiB, "
        f"peak RSS {rss:.0f} MiB ({rss / max(mib, 1e-9):.1f}x the file), {errors}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", help="comma-separated subset of the zoo (default: all)")
    parser.add_argument("--no-validate", action="store_true", help="export only (peak RSS without the check)")
    parser.add_argument("--out", type=Path, help="keep the .pte files here (default: a temporary directory)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    validate = not args.no_validate
    if args.child:
        print(json.dumps(_export_one(args.child, args.out, validate)))
        return 0

    sys.path.insert(0, str(HERE))
    from zoo import ZOO  # torch is imported by the children only

    names: List[str] = args.models.split(",") if args.models else list(ZOO)
    unknown = [n for n in names if n not in ZOO]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(ZOO)}")
    exported = validated = 0
    with tempfile.TemporaryDirectory() as scratch:
        out = args.out or Path(scratch)
        out.mkdir(parents=True, exist_ok=True)
        for name in names:
            figures = _child(name, out, validate)
            print(_line(name, figures), flush=True)
            exported += "error" not in figures
            validated += bool(figures.get("validated"))
    print(f"models={len(names)} exported={exported} validated={validated}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
