"""Export time by phase and peak memory on the CPU with TensorRT-RTX.

    python bench/export.py [--models resnet18,bert,vit_b16] [--out DIR] [--profile MODEL]

Exports each model, in a process of its own (clean peak memory), with
``save(..., output_format="executorch", engine_builder="tensorrt_rtx")``
(TensorRT-RTX builds on the CPU), untrained, batch 1:

- ``resnet18``: torchvision's ResNet-18 layout (11,689,512 parameters), 224x224;
- ``bert``: ``transformers.BertModel(BertConfig())`` (BERT-base), 128 tokens
  (``pip install ".[bench]"`` for transformers);
- ``vit_b16``: ``transformers.ViTModel(ViTConfig())`` (ViT-B/16), 224x224.

Per model it prints the seconds of each phase, exclusive of the phases
nested in it: ``export`` (torch.export), ``partition`` (the partitioner and
the ONNX parser's support query, without its ONNX export), ``support_onnx``
(the support query's ONNX export), ``onnx`` (the build's ONNX export),
``builder`` (TensorRT's ``build_serialized_network`` only), ``preprocess``
(the rest of the backend's ``preprocess``: parsing, blob), ``lowering``
(ExecuTorch's ``to_edge_transform_and_lower`` around them), ``emit``
(``to_executorch``) and ``rest`` (the rest of ``save``: the CPU-kernel check,
serializing and writing the file); then peak RSS and the file size. Last line:

    models=N outside_over_builder_max=<float> peak_rss_over_file_max=<float>

``outside_over_builder`` is (total - builder) / builder; ``peak_rss_over_file``
is the process's peak resident memory (ru_maxrss, imports included) over the
``.pte`` size. ``--profile MODEL`` prints cProfile's top functions for one and
writes its stats to ``<out>/<MODEL>.prof``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple

import torch
from torch import nn
from zoo import ResNet  # torchvision's ResNet-18 layout (torchvision does not load against this CPU torch)

PHASES = ("export", "partition", "support_onnx", "onnx", "builder", "preprocess", "lowering", "emit", "rest")
MODELS = ("resnet18", "bert", "vit_b16")


class LastHiddenState(nn.Module):
    """A transformers model returning its ``last_hidden_state`` tensor."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).last_hidden_state


def make_model(name: str) -> Tuple[nn.Module, Tuple[torch.Tensor, ...]]:
    torch.manual_seed(0)
    if name == "resnet18":
        return ResNet(), (torch.randn(1, 3, 224, 224),)  # zoo's defaults: ResNet-18
    try:
        import transformers
    except ImportError:
        raise SystemExit(f"bench/export.py: {name} needs transformers: pip install '.[bench]' (or run --models resnet18)") from None
    if name == "bert":
        bert = transformers.BertModel(transformers.BertConfig())
        return LastHiddenState(bert), (torch.randint(0, 30522, (1, 128)),)
    if name == "vit_b16":
        vit = transformers.ViTModel(transformers.ViTConfig(), add_pooling_layer=False)
        return LastHiddenState(vit), (torch.randn(1, 3, 224, 224),)
    raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}")


class PhaseClock:
    """Seconds per phase, each exclusive of the phases called inside it."""

    def __init__(self) -> None:
        self.seconds: Dict[str, float] = dict.fromkeys(PHASES, 0.0)
        self._stack: List[List[float]] = []  # per open phase: [start, seconds of nested phases]

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self._stack.append([time.perf_counter(), 0.0])
        try:
            yield
        finally:
            start, nested = self._stack.pop()
            elapsed = time.perf_counter() - start
            self.seconds[name] += elapsed - nested
            if self._stack:
                self._stack[-1][1] += elapsed

    @property
    def depth(self) -> int:
        return len(self._stack)

    def wrap(self, name: str, fn: Callable[..., Any], top_only: bool = False) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if top_only and self.depth > 1:  # e.g. torch.export inside the ONNX export
                return fn(*args, **kwargs)
            with self.phase(name):
                return fn(*args, **kwargs)

        return timed


def instrument(clock: PhaseClock) -> None:
    """Wraps the functions each phase runs in (this process only: a measurement)."""
    import executorch.exir.program._program as program
    from executorch_tensorrt.exporter import api, partitioner
    from executorch_tensorrt.exporter.backend_details import ExecutorchTensorRTBackend
    from executorch_tensorrt.exporter.builders import node_support, tensorrt

    torch.export.export = clock.wrap("export", torch.export.export, top_only=True)
    partitioner.TensorRTPartitioner.partition = clock.wrap("partition", partitioner.TensorRTPartitioner.partition)
    node_support.export_onnx = clock.wrap("support_onnx", node_support.export_onnx)
    tensorrt.request_onnx = clock.wrap("onnx", tensorrt.request_onnx)
    build_progress = tensorrt.build_progress

    @contextlib.contextmanager
    def timed_build(*args: Any, **kwargs: Any) -> Iterator[None]:
        with clock.phase("builder"), build_progress(*args, **kwargs):
            yield

    tensorrt.build_progress = timed_build
    ExecutorchTensorRTBackend.preprocess = staticmethod(
        clock.wrap("preprocess", ExecutorchTensorRTBackend.preprocess)
    )
    api.to_edge_transform_and_lower = clock.wrap("lowering", api.to_edge_transform_and_lower)
    program.EdgeProgramManager.to_executorch = clock.wrap("emit", program.EdgeProgramManager.to_executorch)


def measure(name: str, out: Path, profile: bool) -> Dict[str, Any]:
    """One model's export in this process: phase seconds, peak RSS, file size."""
    from executorch_tensorrt import save

    model, inputs = make_model(name)
    clock = PhaseClock()
    instrument(clock)
    path = out / f"{name}.pte"
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    with clock.phase("rest"), torch.no_grad():
        if profiler is not None:
            profiler.enable()
        save(model.eval(), path, inputs=inputs, output_format="executorch", engine_builder="tensorrt_rtx")
        if profiler is not None:
            profiler.disable()
    total = time.perf_counter() - started
    if profiler is not None:
        profiler.dump_stats(str(out / f"{name}.prof"))
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    return {
        "model": name,
        "total": total,
        "seconds": clock.seconds,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "file_bytes": path.stat().st_size,
    }


def report(result: Dict[str, Any]) -> Tuple[float, float]:
    seconds = result["seconds"]
    builder = seconds["builder"]
    outside = (result["total"] - builder) / builder if builder > 0 else float("inf")
    over_file = result["peak_rss"] / result["file_bytes"]
    phases = " ".join(f"{p}={seconds[p]:.2f}" for p in PHASES)
    print(
        f"{result['model']}: total={result['total']:.2f}s {phases} outside/builder={outside:.2f} "
        f"peak_rss={result['peak_rss'] / 2**20:.0f}MiB file={result['file_bytes'] / 2**20:.1f}MiB "
        f"peak/file={over_file:.1f}",
        flush=True,
    )
    return outside, over_file


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated, from: " + ", ".join(MODELS))
    parser.add_argument("--out", type=Path, help="keep the .pte files here (default: a temporary directory)")
    parser.add_argument("--profile", metavar="MODEL", help="print cProfile's top functions for this model")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one model, in this process; prints JSON
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.child:
        print(json.dumps(measure(args.child, args.out, args.profile == args.child)))
        return 0
    names = [n for n in args.models.split(",") if n]
    worst = [0.0, 0.0]
    with tempfile.TemporaryDirectory() as scratch:
        out = args.out or Path(scratch)
        out.mkdir(parents=True, exist_ok=True)
        for name in names:
            command = [sys.executable, __file__, "--child", name, "--out", str(out)]
            if args.profile:
                command += ["--profile", args.profile]
            done = subprocess.run(command, stdout=subprocess.PIPE, text=True, env=os.environ, check=False)
            if done.returncode != 0:
                print(f"{name}: export failed (exit {done.returncode})", flush=True)
                return 1
            ratios = report(json.loads(done.stdout.strip().splitlines()[-1]))
            worst = [max(w, r) for w, r in zip(worst, ratios)]
    print(f"models={len(names)} outside_over_builder_max={worst[0]:.2f} peak_rss_over_file_max={worst[1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
