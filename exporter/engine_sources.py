"""Engines from elsewhere: a prebuilt serialized engine with its I/O
signature (``trtexec``, polygraphy, the TensorRT Python API), or an ONNX
model file built here. Both end in the same ``.pte`` format as ``save``.

The program around such an engine is a stand-in module with the engine's
signature whose whole graph becomes one ``ExecutorchTensorRTBackend``
delegate holding the engine (nothing is built, so no ``preprocess`` runs);
the stand-in's operators are never run, the engine replaces them.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from executorch.exir import to_edge
from executorch.exir.lowered_backend_module import LoweredBackendModule

from . import blob
from .backend_details import ExecutorchTensorRTBackend
from .blob import Flavour, ShapeRange, TensorSpec
from .builders import PREBUILT_BUILDER, BuiltEngine, get_engine_builder
from ..dtypes import TENSORRT_IO
from ..option_table import ENGINE_POLICY, ONNX_BUILD, keys
from .compile_specs import DimRange, TensorRTCompileSpec, check_profiles
from .export_options import parse_options, resolve_profiles
from .files import checked_target, write_all_atomically
from .io_specs import SUPPORTED_DTYPES
from .program_policies import default_init_policy

# First bytes of serialized engines, per builder flavour.
ENGINE_MAGIC = {Flavour.TENSORRT: b"ftrt", Flavour.TENSORRT_RTX: b"vtrt"}


Dimension = Union[int, str]  # a size, or the name of a dynamic dimension


@dataclass(frozen=True)
class EngineTensor:
    """One engine input or output: its binding name, dtype and shape.

    A dimension is a size or a name (``"batch"``) for a dynamic dimension;
    dimensions of the same name are equal, and the ranges of each name come
    from ``optimization_profiles``. Every output dimension name must also
    appear in an input.
    """

    name: str
    dtype: torch.dtype
    shape: Tuple[Dimension, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"engine tensor name must be a non-empty str, got {self.name!r}")
        if self.dtype not in SUPPORTED_DTYPES:
            raise ValueError(f"engine tensor {self.name!r}: dtype {self.dtype} is not a TensorRT I/O dtype")
        shape = tuple(self.shape)
        for dim in shape:
            size = isinstance(dim, int) and not isinstance(dim, bool) and dim >= 0
            if not size and not (isinstance(dim, str) and dim.isidentifier()):
                raise ValueError(
                    f"engine tensor {self.name!r}: dimension {dim!r} of {list(shape)} must be a size >= 0 "
                    "or the name of a dynamic dimension (a Python identifier such as 'batch'; not -1)"
                )
        object.__setattr__(self, "shape", shape)


def _dim_locations(inputs: Sequence[EngineTensor]) -> Dict[str, Tuple[int, int]]:
    """``{dimension name: (input index, axis)}`` of its first appearance."""
    where: Dict[str, Tuple[int, int]] = {}
    for index, tensor in enumerate(inputs):
        for axis, dim in enumerate(tensor.shape):
            if isinstance(dim, str):
                where.setdefault(dim, (index, axis))
    return where


def _checked_profiles(
    inputs: Sequence[EngineTensor], outputs: Sequence[EngineTensor], profiles: Sequence[Mapping[str, DimRange]]
) -> Tuple[Dict[str, DimRange], ...]:
    names = _dim_locations(inputs)
    for tensor in outputs:
        unknown = [d for d in tensor.shape if isinstance(d, str) and d not in names]
        if unknown:
            raise ValueError(
                f"output {tensor.name!r} has dimension(s) {unknown} that no input has; "
                "engine sources take outputs whose sizes follow from the inputs"
            )
    checked = check_profiles(list(profiles))
    if names and not checked:
        raise ValueError(
            f"the engine has dynamic dimension(s) {sorted(names)}: give "
            f"optimization_profiles=[{{'{sorted(names)[0]}': (min, opt, max)}}, ...] with a range for each"
        )
    for index, profile in enumerate(checked):
        if set(profile) != set(names):
            raise ValueError(
                f"optimization_profiles[{index}] gives ranges for {sorted(profile)}; "
                f"the engine's dynamic dimensions are {sorted(names)}: give exactly those"
            )
    return checked


def _ranges(tensor: EngineTensor, profiles: Sequence[Mapping[str, DimRange]]) -> Tuple[ShapeRange, ...]:
    def bound(dim: Dimension, profile: Mapping[str, DimRange], k: int) -> int:
        return dim if isinstance(dim, int) else profile[dim][k]

    return tuple(
        ShapeRange(*(tuple(bound(d, p, k) for d in tensor.shape) for k in range(3))) for p in (profiles or ({},))
    )


def _tensor_spec(tensor: EngineTensor, profiles: Sequence[Mapping[str, DimRange]]) -> TensorSpec:
    return TensorSpec(tensor.name, SUPPORTED_DTYPES[tensor.dtype], _ranges(tensor, profiles))


def _stand_in(inputs: Sequence[EngineTensor], outputs: Sequence[EngineTensor]) -> torch.nn.Module:
    """A module with the engine's signature. Every output depends on every
    input, so the whole graph is one delegate with all inputs; named output
    dimensions take their size from the input that has them."""
    where = _dim_locations(inputs)

    class StandIn(torch.nn.Module):
        def forward(self, *args: torch.Tensor) -> Tuple[torch.Tensor, ...]:
            anchor = sum(a.reshape(-1)[:1].to(torch.float32).sum() for a in args) * 0.0

            def size(dim: Dimension) -> Any:
                return dim if isinstance(dim, int) else args[where[dim][0]].shape[where[dim][1]]

            return tuple((torch.zeros([size(d) for d in o.shape]) + anchor).to(o.dtype) for o in outputs)

    return StandIn()


def _examples_and_dims(
    inputs: Sequence[EngineTensor], profiles: Sequence[Mapping[str, DimRange]]
) -> Tuple[Tuple[torch.Tensor, ...], Optional[Tuple[Any, ...]]]:
    """Example inputs and torch.export dynamic shapes for the stand-in."""
    if not profiles:
        return tuple(torch.zeros(t.shape, dtype=t.dtype) for t in inputs), None
    low = {n: min(p[n][0] for p in profiles) for n in profiles[0]}
    high = {n: max(p[n][2] for p in profiles) for n in profiles[0]}
    dims = {n: torch.export.Dim(n, min=low[n], max=high[n]) for n in low}
    # torch.export specializes sizes 0 and 1, so the example takes at least 2.
    example = {n: min(max(profiles[0][n][1], 2), high[n]) for n in low}
    tensors = tuple(
        torch.zeros([d if isinstance(d, int) else example[d] for d in t.shape], dtype=t.dtype) for t in inputs
    )
    shapes = tuple({a: dims[d] for a, d in enumerate(t.shape) if isinstance(d, str)} or None for t in inputs)
    # The stand-in takes *args: one positional argument holding every input.
    return tensors, (shapes,)  # type: ignore[return-value]


def _check_signature(inputs: Sequence[EngineTensor], outputs: Sequence[EngineTensor]) -> None:
    for kind, tensors in (("inputs", inputs), ("outputs", outputs)):
        if not tensors or not all(isinstance(t, EngineTensor) for t in tensors):
            raise TypeError(f"{kind} must be a non-empty list of EngineTensor(name, dtype, shape)")
    names = [t.name for t in (*inputs, *outputs)]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"engine tensor names must be unique; repeated: {repeated}")


def _read_engine(engine: Union[bytes, bytearray, str, os.PathLike]) -> bytes:
    if isinstance(engine, (bytes, bytearray)):
        data = bytes(engine)
    elif isinstance(engine, (str, os.PathLike)):
        if not Path(engine).is_file():
            raise FileNotFoundError(f"engine file {engine} does not exist")
        data = Path(engine).read_bytes()
    else:
        raise TypeError(f"engine must be bytes or a path, got {type(engine).__name__}")
    if not data:
        raise ValueError("the engine is empty")
    return data


def engine_program(
    built: BuiltEngine,
    inputs: Sequence[EngineTensor],
    outputs: Sequence[EngineTensor],
    spec: TensorRTCompileSpec,
    profiles: Sequence[Mapping[str, DimRange]] = (),
) -> bytes:
    """The ``.pte`` bytes of a program running ``built`` with this signature."""
    _check_signature(inputs, outputs)
    profiles = _checked_profiles(inputs, outputs, profiles)
    examples, dynamic_shapes = _examples_and_dims(inputs, profiles)
    exported = torch.export.export(_stand_in(inputs, outputs), examples, dynamic_shapes=dynamic_shapes, strict=False)
    symbols = resolve_profiles(profiles, exported)
    specs = spec.replace(engine_builder=PREBUILT_BUILDER, optimization_profiles=symbols).to_compile_specs()
    metadata = blob.EngineMetadata(
        flavour=built.flavour,
        builder_version=built.builder_version,
        inputs=tuple(_tensor_spec(t, profiles) for t in inputs),
        outputs=tuple(_tensor_spec(t, profiles) for t in outputs),
        device_index=spec.device_index,
        version_compatible=built.version_compatible,
        num_profiles=max(len(profiles), 1),
    )
    need = blob.UNKNOWN_EXECUTION_MEMORY if built.execution_memory_bytes is None else built.execution_memory_bytes
    data = blob.encode_engines([blob.EngineEntry(blob.DelegateBlob(metadata, built.engine), need)])
    lowered = LoweredBackendModule(to_edge(exported).exported_program(), ExecutorchTensorRTBackend.__name__, data, specs)

    class Program(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.engine = lowered

        def forward(self, *args: torch.Tensor) -> Any:
            return self.engine(*args)

    wrapped = torch.export.export(Program(), examples, dynamic_shapes=dynamic_shapes, strict=False)
    return to_edge(wrapped).to_executorch().buffer


def check_engine_bytes(data: bytes, flavour: Flavour) -> None:
    magic = ENGINE_MAGIC.get(flavour)
    if magic is not None and data[:4] != magic:
        raise ValueError(
            f"the engine does not start with {magic!r} as {flavour.label} engines do (it starts with {data[:4]!r}); "
            "give the flavour of the builder that made it"
        )


# ONNX TensorProto element types -> torch dtypes TensorRT takes as I/O.
_ONNX_DTYPES = {t.onnx: getattr(torch, t.name) for t in TENSORRT_IO}


def onnx_signature(model: Any) -> Tuple[List[EngineTensor], List[EngineTensor]]:
    """The I/O of an ONNX model (``onnx.ModelProto``), static shapes only."""
    initializers = {i.name for i in model.graph.initializer}

    def tensors(values: Sequence[Any], kind: str) -> List[EngineTensor]:
        result = []
        for value in values:
            if value.name in initializers:
                continue
            tensor_type = value.type.tensor_type
            dtype = _ONNX_DTYPES.get(tensor_type.elem_type)
            if dtype is None:
                raise ValueError(
                    f"ONNX {kind} {value.name!r} has element type {tensor_type.elem_type}, not a TensorRT I/O dtype"
                )
            shape: List[Dimension] = []
            for axis, dim in enumerate(tensor_type.shape.dim):
                if dim.HasField("dim_value"):
                    shape.append(int(dim.dim_value))
                elif dim.dim_param.isidentifier():
                    shape.append(dim.dim_param)
                else:
                    raise ValueError(
                        f"ONNX {kind} {value.name!r} dimension {axis} is dynamic without a usable name "
                        f"({dim.dim_param!r}); name it (an identifier, e.g. 'batch') or fix its size in the model"
                    )
            result.append(EngineTensor(value.name, dtype, tuple(shape)))
        return result

    return tensors(model.graph.input, "input"), tensors(model.graph.output, "output")


def _policies(options: Dict[str, Any], function: str, **record: Any) -> TensorRTCompileSpec:
    allowed = set(keys(ENGINE_POLICY)) | set(record)
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(
            f"{function}() got unexpected keyword argument(s): {', '.join(unknown)}; accepted: {', '.join(sorted(allowed))}"
        )
    spec = parse_options({**options, **record}, function).spec
    return spec.replace(init_policy=spec.init_policy or default_init_policy(1))


def save_engine(
    engine: Union[bytes, bytearray, str, os.PathLike],
    path: Union[str, os.PathLike],
    inputs: Sequence[EngineTensor],
    outputs: Sequence[EngineTensor],
    flavour: str = "tensorrt_rtx",
    builder_version: Optional[str] = None,
    version_compatible: bool = False,
    device_index: int = 0,
    optimization_profiles: Sequence[Mapping[str, DimRange]] = (),
    **policies: Any,
) -> Path:
    """Write a ``.pte`` running a prebuilt serialized engine.

    ``inputs``/``outputs`` are the engine's bindings in the order the program
    takes and returns them; the delegate binds them by name. ``policies`` are
    ``init_policy``, ``output_buffers``, ``execution_memory``,
    ``enable_weight_streaming`` and ``weight_streaming_budget``, as for ``save``.
    The delegate blob holds this one engine, like ``save``'s.
    """
    data = _read_engine(engine)
    target = checked_target(path)
    kind = Flavour.from_label(flavour)
    check_engine_bytes(data, kind)
    if builder_version is None:
        builder_version = _installed_version(flavour)
    spec = _policies(policies, "save_engine", device_index=device_index, version_compatible=version_compatible)
    _check_signature(inputs, outputs)
    built = BuiltEngine(data, kind, builder_version, version_compatible)
    write_all_atomically({target: engine_program(built, inputs, outputs, spec, optimization_profiles)})
    return target


def save_onnx(
    onnx_file: Union[str, os.PathLike],
    path: Union[str, os.PathLike],
    engine_builder: str = "auto",
    optimization_profiles: Sequence[Mapping[str, DimRange]] = (),
    **options: Any,
) -> Path:
    """Build the engine of an ONNX model file and write it as a ``.pte``.

    Dynamic dimensions are named by the model's ``dim_param``; give each a
    range per profile in ``optimization_profiles`` (``[{"batch": (1, 4, 8)}]``).

    ``options`` are the build options and run-time policies of ``save``
    (``workspace_bytes``, ``optimization_level``, ``timing_cache``,
    ``compute_capabilities``, ``version_compatible``, ``enable_weight_streaming``,
    ``weight_streaming_budget``, ``init_policy``, ``output_buffers``, ``execution_memory``, ``device_index``).
    """
    import onnx

    source = Path(onnx_file)
    if not source.is_file():
        raise FileNotFoundError(f"ONNX model {source} does not exist")
    target = checked_target(path)
    record = {k: options.pop(k) for k in set(keys(ONNX_BUILD)) & set(options)}
    spec = _policies(options, "save_onnx", engine_builder=engine_builder, **record)
    builder = get_engine_builder(engine_builder)
    if not hasattr(builder, "build_onnx_file"):
        raise ValueError(f"engine builder {engine_builder!r} cannot build ONNX files; use tensorrt or tensorrt_rtx")
    inputs, outputs = onnx_signature(onnx.load(str(source), load_external_data=False))
    _check_signature(inputs, outputs)
    profiles = _checked_profiles(inputs, outputs, optimization_profiles)
    specs = [[_tensor_spec(t, profiles) for t in tensors] for tensors in (inputs, outputs)]
    built = builder.build_onnx_file(str(source), spec, specs[0], specs[1])
    write_all_atomically({target: engine_program(built, inputs, outputs, spec, profiles)})
    return target


def _installed_version(flavour: str) -> str:
    try:
        return str(importlib.import_module(flavour).__version__)
    except ImportError:
        raise ValueError(
            f"builder_version is required: `{flavour}` is not installed here to tell which version built the engine"
        ) from None
