"""Test-engine programs with simulated device memory (weights, streamable
weights, activation memory; tests/engine/PROGRAM_FORMAT.md) and with compile
specs baked into the .pte, for the weight-streaming and init-policy tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Mapping, Optional

import torch

from test_engine_builder import TestEngineBuilder

from executorch_tensorrt.exporter.builders.base import BuiltEngine, EngineBuildRequest


@dataclass(frozen=True)
class MemoryModel:
    weights: int = 0
    streamable: int = 0
    automatic_budget: Optional[int] = None
    activation: int = 0

    def directives(self) -> str:
        lines = [f"weights {self.weights}", f"streamable {self.streamable}", f"activation {self.activation}"]
        if self.automatic_budget is not None:
            lines.append(f"automatic_budget {self.automatic_budget}")
        return "\n".join(lines) + "\n"


# Streams: 4096 bytes of weights of which 3072 stream; TensorRT's automatic
# budget would be 1024.
STREAMING = MemoryModel(weights=4096, streamable=3072, automatic_budget=1024, activation=512)
# Built without weight streaming.
NOT_STREAMING = MemoryModel(weights=2048, streamable=0, activation=256)


class MemoryTestBuilder(TestEngineBuilder):
    """The test builder, with a memory model prepended to each program."""

    __test__ = False

    def __init__(self, memory: MemoryModel) -> None:
        self.memory = memory

    def build(self, request: EngineBuildRequest) -> BuiltEngine:
        built = super().build(request)
        header, _, body = built.engine.decode("utf-8").partition("\n")
        program = f"{header}\n{self.memory.directives()}{body}"
        return BuiltEngine(
            engine=program.encode("utf-8"),
            flavour=built.flavour,
            builder_version=built.builder_version,
            version_compatible=built.version_compatible,
        )


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
    from executorch_tensorrt.exporter import register_engine_builder, save, unregister_engine_builder

    bases: Dict[str, Path] = {}
    for name, memory in (("streaming", STREAMING), ("not_streaming", NOT_STREAMING)):
        register_engine_builder(f"memory_{name}", MemoryTestBuilder(memory))
        try:
            bases[name] = Path(save(AddOne(), out / f"{name}.pte", inputs=ADD_ONE_INPUTS, engine_builder=f"memory_{name}"))
        finally:
            unregister_engine_builder(f"memory_{name}")
    register_engine_builder("memory_two_engines", MemoryTestBuilder(STREAMING))
    try:
        # No init_policy given: the exporter's default for several engines.
        two_engines = Path(
            save(
                TwoEnginesAroundSigmoid(), out / "two_engines.pte", inputs=ADD_ONE_INPUTS,
                engine_builder="memory_two_engines", torch_executed_ops=["aten.sigmoid.default"],
            )
        )
    finally:
        unregister_engine_builder("memory_two_engines")
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
