"""The ExecuTorch backend: edge program -> delegate blob (metadata + engine)."""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import List, Optional, Tuple, final

import torch
from executorch.exir.backend.backend_details import BackendDetails, PreprocessResult
from executorch.exir.backend.compile_spec_schema import CompileSpec
from torch.export import ExportedProgram

from . import blob
from .build_records import EngineBuildRecord, digest, record_build
from .builders import BuiltEngine, EngineBuildRequest, get_engine_builder
from .compile_specs import TensorRTCompileSpec
from .io_specs import derive_io, example_inputs

_LOG = logging.getLogger("executorch_tensorrt.exporter")


@final
class ExecutorchTensorRTBackend(BackendDetails):
    """ExecuTorch stores this class's *name* as the backend id in the ``.pte``;
    the C++ delegate registers under the same id (``backend/backend_id.h``).
    Do not rename it."""

    @staticmethod
    def preprocess(edge_program: ExportedProgram, compile_specs: List[CompileSpec]) -> PreprocessResult:
        spec = TensorRTCompileSpec.from_compile_specs(compile_specs)
        io = derive_io(edge_program, spec.optimization_profiles)
        builder = get_engine_builder(spec.engine_builder)
        name = getattr(builder, "name", type(builder).__name__)
        request = EngineBuildRequest(
            # Edge ops are callable and dispatch to aten, so the unlifted module
            # (weights as attributes, user inputs as arguments) runs as aten.
            module=edge_program.module(),
            example_inputs=example_inputs(io),
            input_specs=io.inputs,
            output_specs=io.outputs,
            compile_spec=spec,
        )
        operators = sum(1 for n in edge_program.graph.nodes if n.op == "call_function")
        _LOG.info("building a TensorRT engine with %s: %d operator(s), %d input(s)", name, operators, len(io.inputs))
        start = time.perf_counter()
        built = builder.build(request)
        seconds = time.perf_counter() - start
        _check_built(name, built, spec)
        num_profiles = len(io.inputs[0].ranges) if io.inputs else 1
        inputs, outputs = _named(io.inputs, io.outputs, built.io_names)
        metadata = blob.EngineMetadata(
            flavour=built.flavour,
            builder_version=built.builder_version,
            inputs=inputs,
            outputs=outputs,
            device_index=spec.device_index,
            version_compatible=built.version_compatible,
            num_profiles=num_profiles,
        )
        data = blob.encode(blob.DelegateBlob(metadata, built.engine))
        weights = built.weight_bytes if built.weight_bytes is not None else constant_bytes(edge_program)
        record_build(
            EngineBuildRecord(
                digest(data), name, built.flavour.label, len(built.engine), weights, num_profiles, seconds
            )
        )
        _LOG.info("built a %s-byte engine in %.2f s", f"{len(built.engine):,}", seconds)
        return PreprocessResult(processed_bytes=data)


def _named(
    inputs: Tuple[blob.TensorSpec, ...],
    outputs: Tuple[blob.TensorSpec, ...],
    names: Optional[Tuple[Tuple[str, ...], Tuple[str, ...]]],
) -> Tuple[Tuple[blob.TensorSpec, ...], Tuple[blob.TensorSpec, ...]]:
    """The delegate's tensors under the engine's own names, when it has them."""
    if names is None:
        return inputs, outputs
    if (len(names[0]), len(names[1])) != (len(inputs), len(outputs)):
        raise RuntimeError(
            f"the engine names {len(names[0])} inputs and {len(names[1])} outputs; "
            f"the delegate has {len(inputs)} and {len(outputs)}"
        )
    renamed_inputs = tuple(dataclasses.replace(s, name=n) for s, n in zip(inputs, names[0], strict=True))
    renamed_outputs = tuple(dataclasses.replace(s, name=n) for s, n in zip(outputs, names[1], strict=True))
    return renamed_inputs, renamed_outputs


def constant_bytes(edge_program: ExportedProgram) -> int:
    """Bytes of the weights and constants the partition holds (what its engine embeds)."""
    tensors = list(edge_program.state_dict.values()) + list(edge_program.constants.values())
    return sum(t.numel() * t.element_size() for t in tensors if isinstance(t, torch.Tensor))


def _check_built(name: str, built: object, spec: TensorRTCompileSpec) -> None:
    if not isinstance(built, BuiltEngine):
        raise TypeError(f"engine builder {name!r} returned {type(built).__name__}, expected BuiltEngine")
    if not isinstance(built.engine, (bytes, bytearray)) or not built.engine:
        raise RuntimeError(f"engine builder {name!r} returned no engine bytes")
    if not isinstance(built.flavour, blob.Flavour):
        raise TypeError(f"engine builder {name!r} returned flavour {built.flavour!r}, expected a blob.Flavour")
    if spec.version_compatible and not built.version_compatible:
        raise RuntimeError(f"version_compatible=True was asked but engine builder {name!r} built an engine that is not")
