"""Exports, on the CPU machine, every program tests/gpu/run_all.sh runs on the GPU
through the real adapter and the TensorRT runtime double (NOT TensorRT), and
writes ``cases.pt``: per program its example inputs and PyTorch's outputs
(the GPU machine has no executorch package and no exporter).

Usage: python tests/gpu/make_programs.py OUT_DIR
"""

from __future__ import annotations

import copy

import sys
from pathlib import Path
from typing import Dict, List, Sequence

import torch
from executorch.exir import to_edge_transform_and_lower

from double_builder import DoubleEngineBuilder
from two_engines import TwoEnginePartitioner
from executorch_tensorrt.exporter import (
    BuiltEngine,
    TensorRTCompileSpec,
    TensorRTPartitioner,
    register_engine_builder,
    save,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/: the .ptd helpers
from ptd_files import rewrite_ptd, weight_keys  # noqa: E402
from executorch_tensorrt.exporter.blob import Flavour
from executorch_tensorrt.exporter.device_planning import DevicePlanning

BATCH = torch.export.Dim("batch", min=1, max=32)
PROFILES = [{"batch": (1, 2, 8)}, {"batch": (9, 16, 32)}]
# Streamable weights of the streaming programs: the linear layer's plus a pad.
STREAM_PAD = 1 << 20
BAKED_BUDGET = 300_000
# Streamable weights far beyond any GPU here (H200: 141 GB): the automatic
# budget (half) cannot be allocated, so the double refuses it.
HUGE_PAD = 400 << 30
# Execution memory of the out-of-memory check's engine.
BIG_ACTIVATION = 64 << 20
IO_FEATURES = 256  # floats per tensor of the execute benchmark programs (1 KiB)


class Mlp(torch.nn.Module):
    """relu(linear(x)) * 2 and x + y: a matmul-like op and elementwise ops."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc = torch.nn.Linear(16, 8)

    def forward(self, x: torch.Tensor, y: torch.Tensor):
        return torch.relu(self.fc(x)) * 2.0, x + y


class Chain(torch.nn.Module):
    """Two engines with a CPU op (sigmoid, which the double lacks) between them."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.a = torch.nn.Linear(16, 16)
        self.b = torch.nn.Linear(16, 4)

    def forward(self, x: torch.Tensor):
        h = torch.sigmoid(torch.relu(self.a(x)))
        return (self.b(h * 2.0 - 1.0),)


class AddReluSquareNeg(torch.nn.Module):
    def forward(self, x: torch.Tensor, y: torch.Tensor):
        a = torch.relu(x + y)
        return (-(a * a),)


class Scale(torch.nn.Module):
    """o_k = i_k * 2 + 1 for each of its inputs (the execute benchmark)."""

    def forward(self, *xs: torch.Tensor):
        return tuple(x * 2.0 + 1.0 for x in xs)


class Accumulate(torch.nn.Module):
    """A state the delegate owns: cache += x, returns cache * 2 (a cache updated in place)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("cache", torch.ones(4, 16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.cache.add_(x)
        return self.cache * 2.0


class Decay(torch.nn.Module):
    """A second method over the same buffer: cache *= 0.5, returns cache + x."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("cache", torch.ones(4, 16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.cache.mul_(0.5)
        return self.cache + x


class CachedLinear(torch.nn.Module):
    """A decode step's shape: a cache updated in place (cache += x) read by a
    layer with weights (returns linear(cache)): prefill and decode methods of
    it share one engine, its weights and the cache."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("cache", torch.zeros(4, 16))
        self.proj = torch.nn.Linear(16, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.cache.add_(x)
        return self.proj(self.cache)


STATE_STEPS = 5


def _state_programs(out: Path, cases: Dict[str, Dict[str, object]]) -> None:
    """state_aliased / state_copy: steps of Accumulate (in place through an
    aliased output, or a device-to-device copy); state_methods: grow and decay
    methods sharing the buffer."""
    steps = [torch.randn(4, 16) for _ in range(STATE_STEPS)]
    for alias in (True, False):
        name = "state_aliased" if alias else "state_copy"
        register_engine_builder(name, DoubleEngineBuilder(name=name, alias_state=alias))
        save(Accumulate(), out / f"{name}.pte", inputs=(steps[0],), engine_builder=name)
        eager = Accumulate()
        expected = [_expected(eager, (x,)) for x in steps]
        cases[name] = {"inputs": steps, "expected": expected, "cache": eager.cache.clone()}
    x = torch.randn(4, 16)
    exported = {"grow": torch.export.export(Accumulate(), (x,)), "decay": torch.export.export(Decay(), (x,))}
    partitioner = TensorRTPartitioner(TensorRTCompileSpec(engine_builder="state_aliased"))
    lowered = to_edge_transform_and_lower(exported, partitioner=[partitioner]).to_executorch()
    (out / "state_methods.pte").write_bytes(lowered.buffer)
    cache = torch.ones(4, 16)
    expected_methods = []
    for method in ("grow", "decay", "grow"):
        cache = cache + x if method == "grow" else cache * 0.5
        expected_methods.append((method, [cache * 2.0 if method == "grow" else cache + x]))
    cases["state_methods"] = {"inputs": [x], "expected": expected_methods, "cache": cache}
    torch.manual_seed(0)
    decoder = CachedLinear()
    save(decoder, out / "state_decoder.pte", methods={"prefill": (steps[0],), "decode": (steps[1],)},
         engine_builder="state_aliased")
    eager = copy.deepcopy(decoder)
    expected = [_expected(eager, (x,)) for x in steps]
    cases["state_decoder"] = {"inputs": steps, "expected": expected, "cache": eager.cache.clone()}
class Nonzero(torch.nn.Module):
    """A data-dependent output: the indices of the positive elements."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nonzero(torch.relu(x))


NONZERO_BOUND = 5


class BoundedNonzero(torch.nn.Module):
    """Promises torch.export at most NONZERO_BOUND positive elements."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        indices = torch.nonzero(torch.relu(x))
        torch._check(indices.shape[0] <= NONZERO_BOUND)
        return indices


def with_positives(count: int) -> torch.Tensor:
    """A [4, 8] input whose first `count` elements (row-major) are positive."""
    x = -torch.ones(32)
    x[:count] = torch.arange(1, count + 1, dtype=torch.float32)
    return x.reshape(4, 8)


class _NotAPlan:
    """Claims a version-compatible TensorRT 11.1.0 engine; its bytes are no plan."""

    name = "not_a_plan"

    def build(self, request) -> BuiltEngine:  # type: ignore[no-untyped-def]
        return BuiltEngine(engine=b"not a plan of the double" * 4, flavour=Flavour.TENSORRT,
                           builder_version="11.1.0", version_compatible=True)


def _expected(model: torch.nn.Module, inputs: Sequence[torch.Tensor]) -> List[torch.Tensor]:
    with torch.no_grad():
        out = model(*inputs)
    return [t.clone() for t in (out if isinstance(out, (tuple, list)) else (out,))]


def _external_weights(out: Path, cases: Dict[str, Dict[str, object]], mlp: torch.nn.Module, x, y) -> None:  # type: ignore[no-untyped-def]
    """ext_mlp.pte with its weights in ext_mlp.ptd (a weight-stripped plan the
    adapter refits), and two .ptd that differ: w0 (fc's weight, [16, 8] in the
    plan) doubled, and w0 reshaped to [8, 16]."""
    save(mlp, out / "ext_mlp.pte", inputs=(x, y), engine_builder="trt_double", external_weights=True)
    key = weight_keys(out / "ext_mlp.pte")["w0"]
    rewrite_ptd(out / "ext_mlp.ptd", out / "ext_mlp_scaled.ptd", lambda k, t: t * 2 if k == key else t)
    rewrite_ptd(out / "ext_mlp.ptd", out / "ext_mlp_shape.ptd", lambda k, t: t.reshape(8, 16) if k == key else t)
    scaled = Mlp()
    with torch.no_grad():
        scaled.fc.weight.mul_(2.0)
    cases["ext_mlp"] = {"inputs": [x, y], "expected": _expected(mlp, (x, y)), "scaled": _expected(scaled, (x, y))}


class ScaledShift(torch.nn.Module):
    """relu(x * scale + shift): two [4, 16] weights used elementwise."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.randn(4, 16))
        self.shift = torch.nn.Parameter(torch.randn(4, 16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x * self.scale + self.shift)


def _weights_as_inputs(out: Path, cases: Dict[str, Dict[str, object]]) -> None:
    """weights_inputs.pte: external weights with a builder that builds no
    refittable plans, so the engine reads scale and shift as inputs from
    weights_inputs.ptd (read-only state); weights_inputs_scaled.ptd has scale
    doubled, weights_inputs_shape.ptd scale reshaped to [16, 4]."""
    register_engine_builder("weights_inputs", DoubleEngineBuilder(name="weights_inputs", builds_refittable_engines=False))
    torch.manual_seed(1)
    model, steps = ScaledShift(), [torch.randn(4, 16) for _ in range(STATE_STEPS)]
    save(model, out / "weights_inputs.pte", inputs=(steps[0],), engine_builder="weights_inputs", external_weights=True)
    ptd = out / "weights_inputs.ptd"
    is_scale = lambda key: key.startswith("etrt.weight.") and key.endswith(".scale")  # noqa: E731
    rewrite_ptd(ptd, out / "weights_inputs_scaled.ptd", lambda k, t: t * 2 if is_scale(k) else t)
    rewrite_ptd(ptd, out / "weights_inputs_shape.ptd", lambda k, t: t.reshape(16, 4) if is_scale(k) else t)
    scaled = copy.deepcopy(model)
    with torch.no_grad():
        scaled.scale.mul_(2.0)
    cases["weights_inputs"] = {"inputs": steps, "expected": [_expected(model, (x,)) for x in steps],
                               "scaled": _expected(scaled, (steps[0],))}


def main(out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plain = DoubleEngineBuilder()
    register_engine_builder("trt_double", plain)
    register_engine_builder("trt_double_stream", DoubleEngineBuilder(name="trt_double_stream", pad_bytes=STREAM_PAD))
    register_engine_builder("trt_double_slow", DoubleEngineBuilder(name="trt_double_slow", run_delay_us=3000))
    register_engine_builder("trt_double_big", DoubleEngineBuilder(name="trt_double_big", activation_extra=BIG_ACTIVATION))
    register_engine_builder("trt_double_huge", DoubleEngineBuilder(name="trt_double_huge", pad_bytes=HUGE_PAD))
    register_engine_builder("not_a_plan", _NotAPlan())
    # Plans closed by an `end` line: gpu_checks.py grows large_mlp past 2 and 4 GiB (tests/large_programs.py).
    register_engine_builder("trt_double_ended", DoubleEngineBuilder(name="trt_double_ended", end_line=True))
    cases: Dict[str, Dict[str, object]] = {}
    mlp, dyn = Mlp(), {"x": {0: BATCH}, "y": {0: BATCH}}
    x, y = torch.randn(4, 16), torch.randn(4, 16)

    def add(name: str, model: torch.nn.Module, inputs: Sequence[torch.Tensor], **options: object) -> None:
        save(model, out / f"{name}.pte", inputs=tuple(inputs), **options)
        cases[name] = {"inputs": list(inputs), "expected": _expected(model, inputs)}

    add("mlp", mlp, (x, y), engine_builder="trt_double_stream", enable_weight_streaming=True, dynamic_shapes=dyn, optimization_profiles=PROFILES)
    add("mlp_budget", mlp, (x, y), engine_builder="trt_double_stream", enable_weight_streaming=True, dynamic_shapes=dyn,
        optimization_profiles=PROFILES, weight_streaming_budget=BAKED_BUDGET)
    add("mlp_deferred", mlp, (x, y), engine_builder="trt_double", dynamic_shapes=dyn,
        optimization_profiles=PROFILES, init_policy="deferred")
    add("mlp_device", mlp, (x, y), engine_builder="trt_double_stream", enable_weight_streaming=True, dynamic_shapes=dyn,
        optimization_profiles=PROFILES, device_planning=DevicePlanning(device_io=True))
    chain_x = torch.randn(4, 16)
    add("chain", Chain(), (chain_x,), engine_builder="trt_double", dynamic_shapes={"x": {0: BATCH}})
    add("chain_slow", Chain(), (chain_x,), engine_builder="trt_double_slow", dynamic_shapes={"x": {0: BATCH}})
    add("ranges", mlp, (x, y), engine_builder="trt_double", dynamic_shapes=dyn,
        optimization_profiles=PROFILES, batch_engines="per_range")
    add("mlp_huge", mlp, (x, y), engine_builder="trt_double_huge", enable_weight_streaming=True, init_policy="deferred")
    add("mlp_big", mlp, (x, y), engine_builder="trt_double_big", init_policy="deferred")
    # Batches at and around each profile's (and range engine's) bounds.
    batches = [(torch.randn(n, 16), torch.randn(n, 16)) for n in (1, 8, 9, 32)]
    for name in ("mlp", "ranges"):
        cases[name]["batches"] = [(list(b), _expected(mlp, b)) for b in batches]
    # The runner's --input files must hold each input's largest shape.
    for name in ("mlp", "mlp_budget", "ranges"):
        cases[name]["runner"] = (list(batches[-1]), _expected(mlp, batches[-1]))
    chain_max = (torch.randn(32, 16),)
    cases["chain"]["runner"] = (list(chain_max), _expected(Chain(), chain_max))
    # Two methods whose partitions are the same graph: one engine in named
    # data, deserialized once at load (the second method's delegate shares it).
    x2, y2 = torch.randn(2, 16), torch.randn(2, 16)
    save(mlp, out / "two_methods.pte", methods={"prefill": (x, y), "decode": (x2, y2)}, dynamic_shapes=dyn,
         engine_builder="trt_double", init_policy="eager")
    cases["two_methods"] = {"inputs": {"prefill": [x, y], "decode": [x2, y2]},
                            "expected": {"prefill": _expected(mlp, (x, y)), "decode": _expected(mlp, (x2, y2))}}
    add("large_mlp", mlp, (x, y), engine_builder="trt_double_ended")
    add("device7", mlp, (x, y), engine_builder="trt_double", device_index=7)
    add("not_a_plan", mlp, (x, y), engine_builder="not_a_plan")
    try:
        add("rtx_mlp", mlp, (x, y), engine_builder="tensorrt_rtx")
    except Exception as err:  # noqa: BLE001 - the RTX builder is optional here
        print(f"skipping rtx_mlp: {err}", file=sys.stderr)

    a, b = torch.linspace(-4, 4, 64).reshape(4, 16), torch.full((4, 16), 0.5)
    for planned in (True, False):
        exported = torch.export.export(AddReluSquareNeg(), (a, b), strict=False)
        spec = TensorRTCompileSpec(engine_builder="trt_double")
        edge = to_edge_transform_and_lower(exported, partitioner=[TwoEnginePartitioner(spec, device_planning=planned)])
        name = "two_delegates" if planned else "two_delegates_host"
        (out / f"{name}.pte").write_bytes(edge.to_executorch().buffer)
        cases[name] = {"inputs": [a, b], "expected": _expected(AddReluSquareNeg(), (a, b))}

    for count in (1, 8):  # 2 and 16 I/O tensors
        inputs = [torch.randn(1, IO_FEATURES) for _ in range(count)]
        add(f"io{2 * count}", Scale(), inputs, engine_builder="trt_double")
        add(f"io{2 * count}_device", Scale(), inputs, engine_builder="trt_double",
            device_planning=DevicePlanning(device_io=True))
        # The bench's floor runs this plan through the double directly.
        (out / f"io{2 * count}.plan").write_bytes(plain.plans[-1])
    # Device I/O whose every run holds the GPU 3 ms: calls that return
    # before the GPU, and runs on two streams sharing execution memory.
    slow_inputs = [torch.randn(1, IO_FEATURES) for _ in range(2)]
    add("scale_device_slow", Scale(), slow_inputs, engine_builder="trt_double_slow",
        device_planning=DevicePlanning(device_io=True))
    _state_programs(out, cases)
    # Data-dependent output shapes (nonzero through IOutputAllocator).
    add("nonzero", Nonzero(), (with_positives(3),), engine_builder="trt_double")
    add("nonzero_device", Nonzero(), (with_positives(3),), engine_builder="trt_double",
        device_planning=DevicePlanning(device_io=True))
    add("nonzero_bounded", BoundedNonzero(), (with_positives(3),), engine_builder="trt_double")
    counts = [(with_positives(n),) for n in (0, 1, 7, 32)]
    cases["nonzero"]["counts"] = [(list(x), _expected(Nonzero(), x)) for x in counts]
    cases["nonzero_bounded"]["over"] = [with_positives(NONZERO_BOUND + 3)]
    _external_weights(out, cases, mlp, x, y)
    _weights_as_inputs(out, cases)
    torch.save(cases, out / "cases.pt")
    print(f"wrote {len(cases)} programs to {out}")


if __name__ == "__main__":
    main(sys.argv[1])
