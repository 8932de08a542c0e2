"""Test-engine programs with simulated device memory (weights, streamable
weights, activation memory; tests/engine/PROGRAM_FORMAT.md) and with compile
specs baked into the .pte, for the weight-streaming, init-policy, batch-range
engine and shared execution-memory tests."""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, Mapping, Optional, Sequence, Tuple

import torch

from test_engine_builder import TestEngineBuilder

from executorch_tensorrt.exporter.builders.base import BuiltEngine, EngineBuildRequest


@dataclass(frozen=True)
class MemoryModel:
    weights: int = 0
    streamable: int = 0
    automatic_budget: Optional[int] = None
    activation: int = 0
    run_delay_us: int = 0  # how long each run holds its execution memory
    run_rendezvous: int = 0  # runs wait (once) until this many run at once on the engine

    def directives(self) -> str:
        lines = [f"weights {self.weights}", f"streamable {self.streamable}", f"activation {self.activation}"]
        if self.automatic_budget is not None:
            lines.append(f"automatic_budget {self.automatic_budget}")
        if self.run_delay_us:
            lines.append(f"run_delay_us {self.run_delay_us}")
        if self.run_rendezvous:
            lines.append(f"run_rendezvous {self.run_rendezvous}")
        return "\n".join(lines) + "\n"


# Streams: 4096 bytes of weights of which 3072 stream; TensorRT's automatic
# budget would be 1024.
STREAMING = MemoryModel(weights=4096, streamable=3072, automatic_budget=1024, activation=512)
# Built without weight streaming.
NOT_STREAMING = MemoryModel(weights=2048, streamable=0, activation=256)
# No weights: for programs whose engines differ only in activation memory.
NO_WEIGHTS = MemoryModel(weights=0, streamable=0, activation=0)


def engine_max_batch(request: EngineBuildRequest) -> int:
    """The largest dim 0 among the engine's input ``max`` shapes (1 without batched inputs)."""
    return max((r.max[0] for s in request.input_specs for r in s.ranges if r.max), default=1)


class MemoryTestBuilder(TestEngineBuilder):
    """The test builder, with a memory model prepended to each program.

    ``activation_bytes_per_batch=N`` makes each engine's activation need
    ``N * max_batch`` (see ``engine_max_batch``), so the engines of
    ``batch_engines="per_range"`` need different amounts, as real TensorRT
    engines do; ``activation_of(request)`` chooses it freely. The activation
    need is also the engine's ``execution_memory_bytes`` hint in the blob.
    """

    __test__ = False

    def __init__(
        self,
        memory: MemoryModel,
        activation_bytes_per_batch: Optional[int] = None,
        activation_of: Optional[Callable[[EngineBuildRequest], int]] = None,
    ) -> None:
        if activation_bytes_per_batch is not None and activation_of is not None:
            raise ValueError("give activation_bytes_per_batch or activation_of, not both")
        self.memory = memory
        if activation_bytes_per_batch is not None:
            activation_of = lambda request: activation_bytes_per_batch * engine_max_batch(request)  # noqa: E731
        self.activation_of = activation_of

    def memory_for(self, request: EngineBuildRequest) -> MemoryModel:
        if self.activation_of is None:
            return self.memory
        return dataclasses.replace(self.memory, activation=self.activation_of(request))

    def build(self, request: EngineBuildRequest) -> BuiltEngine:
        built = super().build(request)
        memory = self.memory_for(request)
        header, _, body = built.engine.decode("utf-8").partition("\n")
        program = f"{header}\n{memory.directives()}{body}"
        return BuiltEngine(
            engine=program.encode("utf-8"),
            flavour=built.flavour,
            builder_version=built.builder_version,
            version_compatible=built.version_compatible,
            execution_memory_bytes=memory.activation,
        )


@contextlib.contextmanager
def registered(name: str, builder: object) -> Iterator[str]:
    """``builder`` registered under ``name`` for the duration of the block."""
    from executorch_tensorrt.exporter import register_engine_builder, unregister_engine_builder

    register_engine_builder(name, builder)
    try:
        yield name
    finally:
        unregister_engine_builder(name)


def with_compile_specs(source: Path, destination: Path, specs: Mapping[str, bytes]) -> Path:
    """Copies a .pte, adding (or replacing) compile specs on every delegate.

    Used to bake values exactly as the delegate will read them, including
    malformed ones the exporter itself would refuse to write."""
    from executorch.exir._serialize._program import deserialize_pte_binary, serialize_pte_binary
    from executorch.exir.schema import CompileSpec

    pte = deserialize_pte_binary(source.read_bytes())
    for plan in pte.program.execution_plan:
        for delegate in plan.delegates:
            kept = [spec for spec in delegate.compile_specs if spec.key not in specs]
            delegate.compile_specs = kept + [CompileSpec(key, value) for key, value in specs.items()]
    destination.write_bytes(bytes(serialize_pte_binary(pte)))
    return destination


class AddOne(torch.nn.Module):
    """forward(x) = x + 1 on one engine."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 1.0


ADD_ONE_INPUTS = (torch.zeros(2, 3),)


class TwoEnginesAroundSigmoid(torch.nn.Module):
    """forward(x) = sigmoid(x + 1) + 1: with sigmoid forced to the CPU, two
    engines with a CPU op between them."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x + 1.0) + 1.0


def export_memory_programs(out: Path) -> Dict[str, Path]:
    """Programs for the budget precedence table and the init policies."""
    from executorch_tensorrt.exporter import save

    bases: Dict[str, Path] = {}
    for name, memory in (("streaming", STREAMING), ("not_streaming", NOT_STREAMING)):
        with registered(f"memory_{name}", MemoryTestBuilder(memory)) as builder_name:
            bases[name] = Path(save(AddOne(), out / f"{name}.pte", inputs=ADD_ONE_INPUTS, engine_builder=builder_name))
    with registered("memory_two_engines", MemoryTestBuilder(STREAMING)) as builder_name:
        # No init_policy given: the exporter's default for several engines.
        two_engines = Path(
            save(
                TwoEnginesAroundSigmoid(), out / "two_engines.pte", inputs=ADD_ONE_INPUTS,
                engine_builder=builder_name, torch_executed_ops=["aten.sigmoid.default"],
            )
        )
    return {
        "two_engines": two_engines,
        "streaming": bases["streaming"],
        "streaming_baked": with_compile_specs(
            bases["streaming"], out / "streaming_baked.pte", {"weight_streaming_budget": b"2048"}
        ),
        "not_streaming": bases["not_streaming"],
        "not_streaming_baked": with_compile_specs(
            bases["not_streaming"], out / "not_streaming_baked.pte", {"weight_streaming_budget": b"100"}
        ),
        "streaming_deferred": with_compile_specs(
            bases["streaming"], out / "streaming_deferred.pte", {"init_policy": b"deferred"}
        ),
        "streaming_bad_budget": with_compile_specs(
            bases["streaming"], out / "streaming_bad_budget.pte", {"weight_streaming_budget": b"-0"}
        ),
    }


class BatchedElementwise(torch.nn.Module):
    """forward(x) = relu(x + 1) * 2 on one engine; x is [batch, 4]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + 1.0) * 2.0


BATCH_RANGES: Tuple[Tuple[int, int], ...] = ((1, 8), (9, 32), (33, 128))
BATCH_FEATURES = 4


def export_batch_range_program(
    out: Path,
    *,
    batch_engines: str,
    ranges: Sequence[Tuple[int, int]] = BATCH_RANGES,
    activation_bytes_per_batch: int = 1024,
    execution_memory: Optional[str] = None,
    name: Optional[str] = None,
) -> Path:
    """A test-engine program of elementwise float32 ops on x: [batch, 4], with
    one optimization profile per ``(min, max)`` batch range (opt = max).

    ``batch_engines="per_range"`` gives one engine per range in the delegate,
    each needing ``activation_bytes_per_batch * max`` bytes of activation
    memory; ``max_batch`` one engine with every profile, needing it for the
    largest range. Returns the ``.pte`` path (``out/<name>.pte``).
    """
    from executorch_tensorrt.exporter import save

    lowest, highest = min(r[0] for r in ranges), max(r[1] for r in ranges)
    batch = torch.export.Dim("batch", min=lowest, max=highest)
    # torch.export specializes sizes 0 and 1: the example batch must be >= 2.
    example = 4 if lowest <= 4 <= highest else max(lowest, 2)
    profiles = [{"batch": (low, high, high)} for low, high in ranges]
    builder = MemoryTestBuilder(NO_WEIGHTS, activation_bytes_per_batch=activation_bytes_per_batch)
    target = out / f"{name or f'batch_ranges_{batch_engines}'}.pte"
    with registered(f"memory_batch_{batch_engines}", builder) as builder_name:
        return Path(
            save(
                BatchedElementwise(), target, inputs=(torch.zeros(example, BATCH_FEATURES),),
                dynamic_shapes=({0: batch},), optimization_profiles=profiles, engine_builder=builder_name,
                batch_engines=batch_engines, execution_memory=execution_memory,
            )
        )


class EngineChain(torch.nn.Module):
    """Engine k computes x + (k + 1); a sigmoid kept on the CPU separates them."""

    def __init__(self, engines: int) -> None:
        super().__init__()
        self.engines = engines

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for k in range(self.engines):
            if k:
                x = torch.sigmoid(x)
            x = x + float(k + 1)
        return x


def chain_engine_index(request: EngineBuildRequest) -> int:
    """Which engine of an ``EngineChain`` the request builds: it adds k + 1,
    so running it on ones gives k + 2."""
    ones = tuple(torch.ones_like(t) for t in request.example_inputs)
    with torch.no_grad():
        result = request.module(*ones)
    first = result[0] if isinstance(result, (tuple, list)) else result
    return int(round(float(first.reshape(-1)[0]))) - 2


def export_engine_chain_program(
    out: Path,
    activations: Sequence[int],
    execution_memory: Optional[str] = None,
    name: Optional[str] = None,
    run_delay_us: int = 0,
) -> Path:
    """A test-engine program of ``len(activations)`` engines separated by CPU
    sigmoids (``TwoEnginesAroundSigmoid`` generalised); engine k needs
    ``activations[k]`` bytes of activation memory. Returns the ``.pte`` path."""
    from executorch_tensorrt.exporter import save

    if not activations:
        raise ValueError("activations must name at least one engine's need")
    needs = tuple(int(a) for a in activations)
    memory = dataclasses.replace(NO_WEIGHTS, run_delay_us=run_delay_us)
    builder = MemoryTestBuilder(memory, activation_of=lambda request: needs[chain_engine_index(request)])
    target = out / f"{name or f'chain_{len(needs)}_engines'}.pte"
    with registered("memory_engine_chain", builder) as builder_name:
        return Path(
            save(
                EngineChain(len(needs)), target, inputs=ADD_ONE_INPUTS, engine_builder=builder_name,
                torch_executed_ops=["aten.sigmoid.default"], execution_memory=execution_memory,
            )
        )
