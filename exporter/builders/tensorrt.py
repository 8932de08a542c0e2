"""The TensorRT / TensorRT-RTX engine builder: torch -> ONNX -> OnnxParser -> engine.

Both packages expose the same Python API, so one class serves both; it only
differs in the module it imports and the flavour it records in the blob.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from types import ModuleType
from typing import Any, Dict, List, Sequence

from ..blob import Flavour, TensorSpec
from .base import BuiltEngine, EngineBuilderUnavailableError, EngineBuildRequest
from .onnx_export import export_onnx
from .trt_logging import build_progress, format_errors, make_logger

_FLAVOURS = {"tensorrt": Flavour.TENSORRT, "tensorrt_rtx": Flavour.TENSORRT_RTX}
_INSTALL = {"tensorrt": "pip install tensorrt", "tensorrt_rtx": "pip install tensorrt-rtx-cu13"}

# protobuf cannot serialize messages of 2 GiB or more; larger models go
# through a file with external weights (a margin keeps headers in budget).
MAX_IN_MEMORY_ONNX_BYTES = 2**31 - 2**20

# TensorRT DataType names -> ExecuTorch ScalarType codes (see blob.SCALAR_TYPE_NAMES).
_TRT_DTYPE_CODES = {
    "FLOAT": 6,
    "HALF": 5,
    "BF16": 15,
    "INT32": 3,
    "INT64": 4,
    "BOOL": 11,
    "UINT8": 0,
    "INT8": 1,
}


class TensorRTEngineBuilder:
    """Builds engines with the ``tensorrt`` or the ``tensorrt_rtx`` package."""

    def __init__(self, module_name: str) -> None:
        if module_name not in _FLAVOURS:
            raise ValueError(f"module_name must be one of {sorted(_FLAVOURS)}, got {module_name!r}")
        self.name = module_name
        self.flavour = _FLAVOURS[module_name]

    def __repr__(self) -> str:
        return f"TensorRTEngineBuilder({self.name!r})"

    def _import(self) -> ModuleType:
        try:
            return importlib.import_module(self.name)
        except (ImportError, OSError) as err:
            raise EngineBuilderUnavailableError(
                f"engine builder {self.name!r} needs the `{self.name}` Python package, which failed to import "
                f"({err}); install it with `{_INSTALL[self.name]}`"
            ) from err

    def build(self, request: EngineBuildRequest) -> BuiltEngine:
        trt = self._import()
        spec = request.compile_spec
        version_flag = None
        if spec.version_compatible:
            # Checked before the slow steps so the user learns it at once.
            version_flag = getattr(trt.BuilderFlag, "VERSION_COMPATIBLE", None)
            if version_flag is None:
                raise ValueError(
                    f"version_compatible=True: {self.name} {trt.__version__} has no VERSION_COMPATIBLE builder "
                    "flag; build without version_compatible or use a TensorRT that supports it"
                )

        input_names = [s.name for s in request.input_specs]
        output_names = [s.name for s in request.output_specs]
        onnx_program = export_onnx(request.module, request.example_inputs, input_names, output_names)

        logger = make_logger(trt)
        builder = trt.Builder(logger)
        network = builder.create_network(_network_flags(trt))
        parser = trt.OnnxParser(network, logger)
        if not _parse(parser, onnx_program):
            raise RuntimeError(
                f"{self.name} {trt.__version__} could not parse the ONNX export of the delegated graph:\n"
                + "\n".join(_parser_errors(parser))
            )
        _check_network_io(self.name, network, request.input_specs, request.output_specs)

        config = builder.create_builder_config()
        if spec.workspace_bytes is not None:
            config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, spec.workspace_bytes)
        if version_flag is not None:
            config.set_flag(version_flag)

        with build_progress(trt, config):
            serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise RuntimeError(
                f"{self.name} {trt.__version__} failed to build the engine; last TensorRT errors:\n"
                + format_errors(list(logger.errors))
            )
        engine = bytes(memoryview(serialized))
        if not engine:
            raise RuntimeError(f"{self.name} {trt.__version__} returned an empty engine")
        return BuiltEngine(
            engine=engine,
            flavour=self.flavour,
            builder_version=str(trt.__version__),
            version_compatible=version_flag is not None,
        )


def _network_flags(trt: ModuleType) -> int:
    # Strongly typed: TensorRT keeps the graph's dtypes (fp16 stays fp16, fp32
    # stays fp32) as PyTorch ran them. TensorRT-RTX networks always are; full
    # TensorRT needs the flag. Explicit batch is the only mode since TensorRT 10.
    flag = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    return 0 if flag is None else 1 << int(flag)


def _parse(parser: Any, onnx_program: Any) -> bool:
    proto = onnx_program.model_proto
    if proto.ByteSize() < MAX_IN_MEMORY_ONNX_BYTES:
        return bool(parser.parse(proto.SerializeToString()))
    with tempfile.TemporaryDirectory(prefix="executorch_tensorrt_onnx_") as tmp:
        path = os.path.join(tmp, "model.onnx")
        onnx_program.save(path, external_data=True)
        # The parser copies the weights it reads, so the files may go afterwards.
        return bool(parser.parse_from_file(path))


def _parser_errors(parser: Any) -> List[str]:
    lines = []
    for i in range(parser.num_errors):
        error = parser.get_error(i)
        where = []
        node_name = _call(error, "node_name")
        if node_name:
            where.append(f"node {node_name!r}")
        node = _call(error, "node")
        if isinstance(node, int) and node >= 0:
            where.append(f"#{node}")
        op = _call(error, "node_operator")
        if op:
            where.append(f"({op})")
        prefix = " ".join(where) or "model"
        desc = _call(error, "desc") or str(error)
        func = _call(error, "func")  # e.g. checkBitwiseAnd: says which check refused the node
        code = getattr(_call(error, "code"), "name", None)
        detail = f"{func}: {desc}" if func else desc
        lines.append(f"  {prefix}: {detail}" + (f" [{code}]" if code else ""))
    return lines or ["  (the parser reported no error message)"]


def _call(obj: Any, method: str) -> Any:
    # Older TensorRT releases lack some IParserError accessors.
    fn = getattr(obj, method, None)
    try:
        return fn() if callable(fn) else None
    except Exception:
        return None


def _check_network_io(
    builder_name: str, network: Any, inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec]
) -> None:
    """The delegate binds engine tensors by name and trusts the metadata's
    shapes/dtypes, so catch any disagreement here rather than at run time."""
    got_inputs = _network_tensors(network.num_inputs, network.get_input)
    got_outputs = _network_tensors(network.num_outputs, network.get_output)
    problems = []
    for kind, expected, got in (("input", inputs, got_inputs), ("output", outputs, got_outputs)):
        names = [s.name for s in expected]
        if sorted(names) != sorted(got):
            problems.append(f"{kind}s: expected {names}, the network has {sorted(got)}")
            continue
        for s in expected:
            shape, dtype = got[s.name]
            if shape != s.ranges[0].opt:
                problems.append(
                    f"{kind} {s.name}: expected shape {list(s.ranges[0].opt)}, the network has {list(shape)}"
                )
            if dtype is not None and dtype != s.dtype:
                problems.append(f"{kind} {s.name}: expected dtype code {s.dtype}, the network has {dtype}")
    if problems:
        raise RuntimeError(
            f"the {builder_name} network does not match the delegate's signature:\n"
            + "\n".join(f"  {p}" for p in problems)
        )


def _network_tensors(count: int, get: Any) -> Dict[str, tuple]:
    tensors = {}
    for i in range(count):
        tensor = get(i)
        dtype_name = getattr(tensor.dtype, "name", "")
        tensors[tensor.name] = (tuple(int(d) for d in tensor.shape), _TRT_DTYPE_CODES.get(dtype_name))
    return tensors
