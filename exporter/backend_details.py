"""The ExecuTorch backend: edge program -> delegate blob (metadata + engine)."""

from __future__ import annotations

from typing import List, final

from executorch.exir.backend.backend_details import BackendDetails, PreprocessResult
from executorch.exir.backend.compile_spec_schema import CompileSpec
from torch.export import ExportedProgram

from . import blob
from .builders import BuiltEngine, EngineBuildRequest, get_engine_builder
from .compile_specs import TensorRTCompileSpec
from .io_specs import derive_io, example_inputs


@final
class ExecutorchTensorRTBackend(BackendDetails):
    """ExecuTorch stores this class's *name* as the backend id in the ``.pte``;
    the C++ delegate registers under the same id (``backend/backend_id.h``).
    Do not rename it."""

    @staticmethod
    def preprocess(edge_program: ExportedProgram, compile_specs: List[CompileSpec]) -> PreprocessResult:
        spec = TensorRTCompileSpec.from_compile_specs(compile_specs)
        io = derive_io(edge_program)
        builder = get_engine_builder(spec.engine_builder)
        request = EngineBuildRequest(
            # Edge ops are callable and dispatch to aten, so the unlifted module
            # (weights as attributes, user inputs as arguments) runs as aten.
            module=edge_program.module(),
            example_inputs=example_inputs(io),
            input_specs=io.inputs,
            output_specs=io.outputs,
            compile_spec=spec,
        )
        built = builder.build(request)
        _check_built(getattr(builder, "name", type(builder).__name__), built, spec)
        metadata = blob.EngineMetadata(
            flavour=built.flavour,
            builder_version=built.builder_version,
            inputs=io.inputs,
            outputs=io.outputs,
            device_index=spec.device_index,
            version_compatible=built.version_compatible,
            num_profiles=1,
        )
        return PreprocessResult(processed_bytes=blob.encode(blob.DelegateBlob(metadata, built.engine)))


def _check_built(name: str, built: object, spec: TensorRTCompileSpec) -> None:
    if not isinstance(built, BuiltEngine):
        raise TypeError(f"engine builder {name!r} returned {type(built).__name__}, expected BuiltEngine")
    if not isinstance(built.engine, (bytes, bytearray)) or not built.engine:
        raise RuntimeError(f"engine builder {name!r} returned no engine bytes")
    if not isinstance(built.flavour, blob.Flavour):
        raise TypeError(f"engine builder {name!r} returned flavour {built.flavour!r}, expected a blob.Flavour")
    if spec.version_compatible and not built.version_compatible:
        raise RuntimeError(f"version_compatible=True was asked but engine builder {name!r} built an engine that is not")
