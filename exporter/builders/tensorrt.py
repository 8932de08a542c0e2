"""The TensorRT / TensorRT-RTX engine builder: torch -> ONNX -> OnnxParser -> engine.

Both packages expose the same Python API, so one class serves both; it only
differs in the module it imports and the flavour it records in the blob.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import os
import re
import sys
import tempfile
import time
from types import ModuleType
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch.export import ExportedProgram

from ...dtypes import TENSORRT_CODES
from ..blob import Flavour, TensorSpec
from ..compile_specs import TensorRTCompileSpec
from .base import BuiltEngine, EngineBuilderUnavailableError, EngineBuildError, EngineBuildRequest
from .build_failures import first_failing_prefix, fx_nodes_of, named_onnx_nodes, prefix_model
from ..data_dependent import with_nonzero_copies
from .node_support import SupportProbe, unsupported_by_onnx_parser
from .onnx_export import dynamic_axes, request_onnx
from .trt_logging import build_progress, format_errors, make_logger

# TensorRT's messages about a failed build or parse (True: a build) -> names of the graph nodes they blame.
Blame = Callable[[Sequence[str], bool], Tuple[str, ...]]

_FLAVOURS = {"tensorrt": Flavour.TENSORRT, "tensorrt_rtx": Flavour.TENSORRT_RTX}
_INSTALL = {"tensorrt": "pip install tensorrt", "tensorrt_rtx": "pip install tensorrt-rtx-cu13"}

# protobuf cannot serialize messages of 2 GiB or more; larger models go
# through a file with external weights (a margin keeps headers in budget).
MAX_IN_MEMORY_ONNX_BYTES = 2**31 - 2**20

# ONNX TensorProto element type -> bytes per element (the fixed-size ones).
_ONNX_ELEMENT_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 14: 8, 15: 16, 16: 2}


def serialized_onnx(proto: Any) -> Optional[bytes]:
    """``proto``'s bytes, or None when it is too large to serialize in memory
    (``MAX_IN_MEMORY_ONNX_BYTES``; it then goes through a file with external
    data). One serialization: protobuf's ``ByteSize`` serializes the message
    to measure it, and fails beyond 2 GiB as ``SerializeToString`` does. A
    model whose initializers alone are too large is not serialized at all."""
    from google.protobuf.message import EncodeError

    weights = 0
    for initializer in proto.graph.initializer:
        count = 1
        for dim in initializer.dims:
            count *= int(dim)
        weights += count * _ONNX_ELEMENT_BYTES.get(initializer.data_type, 0)
    if weights >= MAX_IN_MEMORY_ONNX_BYTES:
        return None
    try:
        data = proto.SerializeToString()
    except EncodeError:
        return None
    return data if len(data) < MAX_IN_MEMORY_ONNX_BYTES else None

class TensorRTEngineBuilder:
    """Builds engines with the ``tensorrt`` or the ``tensorrt_rtx`` package."""

    # Owned state is an ordinary engine input and output to TensorRT (the
    # ONNX reads the buffer and returns its new value); the delegate copies
    # the new value back on the device, no aliasing needed.
    builds_state = True

    def __init__(self, module_name: str) -> None:
        if module_name not in _FLAVOURS:
            raise ValueError(f"module_name must be one of {sorted(_FLAVOURS)}, got {module_name!r}")
        self.name = module_name
        self.flavour = _FLAVOURS[module_name]
        # The last support query's ONNX of the whole graph: builds cut their
        # partition's ONNX out of it (the export releases it when done).
        self.support_probe: Optional[SupportProbe] = None
        # Engines built during the export, by build request (identical requests
        # share one build; the export forgets them with the support probe).
        self._built: Dict[str, BuiltEngine] = {}
        self.reused_builds = 0  # builds answered from _built since the builder was made
        self._refittable: Optional[bool] = None

    def __repr__(self) -> str:
        return f"TensorRTEngineBuilder({self.name!r})"

    @property
    def builds_refittable_engines(self) -> bool:
        """Whether this TensorRT builds weight-stripped refittable engines on
        this machine: asked once by building a one-layer network so
        (TensorRT-RTX refuses without a CUDA GPU). An unimportable package
        answers True: its build then says what is missing."""
        if self._refittable is None:
            try:
                trt = self._import()
            except EngineBuilderUnavailableError:
                return True
            self._refittable = _refittable_build_works(trt)
        return self._refittable

    def _import(self) -> ModuleType:
        try:
            return importlib.import_module(self.name)
        except (ImportError, OSError) as err:
            raise EngineBuilderUnavailableError(
                f"engine builder {self.name!r} needs the `{self.name}` Python package, which failed to import "
                f"({err}); install it with `{_INSTALL[self.name]}`"
            ) from err

    def unsupported_nodes(
        self, program: ExportedProgram, nodes: Sequence[torch.fx.Node], spec: TensorRTCompileSpec
    ) -> Dict[str, str]:
        """``{node name: reason}`` for the nodes this TensorRT's ONNX parser refuses."""
        trt = self._import()
        self.support_probe = None  # never one of an earlier program
        reasons, self.support_probe = unsupported_by_onnx_parser(trt, make_logger(trt, quiet=True), program, nodes)
        return with_nonzero_copies(reasons, nodes)

    def forget_support_probe(self) -> None:
        """Releases the support query's ONNX (it holds a copy of the weights)
        and the engines built for this export."""
        self.support_probe = None
        self._built = {}

    def onnx_of(self, request: EngineBuildRequest) -> Any:
        """The request's ONNX as the build parses it (``validate`` checks the
        same): cut out of the support query's when it can be, else converted."""
        probe = self.support_probe
        cut = probe.partition_onnx(request) if probe is not None else None
        return cut if cut is not None else request_onnx(request)

    def build(self, request: EngineBuildRequest) -> BuiltEngine:
        trt = self._import()
        spec = request.compile_spec
        # Checked before the slow steps so the user learns it at once.
        flags = _builder_flags(self.name, trt, spec)
        capabilities = _compute_capabilities(self.name, trt, spec.compute_capabilities)

        started = time.perf_counter()
        onnx_program = self.onnx_of(request)
        onnx_seconds = time.perf_counter() - started
        what = "the ONNX export of the delegated graph"
        data = serialized_onnx(onnx_program.model_proto)
        key = _request_key(data, spec, flags, capabilities, request) if data is not None else None
        if key is not None and key in self._built:
            # The same ONNX with the same build settings (e.g. one partition
            # in two methods): the same engine, built once.
            self.reused_builds += 1
            return dataclasses.replace(self._built[key], onnx_seconds=onnx_seconds)
        # The parser keeps its own copy of the model (the network's weights
        # point into it), so the bytes go once parsed, before TensorRT builds.
        unparsed = [data] if data is not None else []
        del data

        def parse(parser: Any) -> bool:
            return bool(parser.parse(unparsed.pop())) if unparsed else _parse(parser, onnx_program)

        traced = getattr(getattr(onnx_program, "exported_program", None), "graph", None)

        def blame(messages: Sequence[str], build: bool) -> Tuple[str, ...]:
            model = onnx_program.model_proto
            named = named_onnx_nodes(messages, model.graph)
            if not named and build and serialized_onnx(model) is not None:
                culprit = self.first_failing_node(trt, spec, flags, capabilities, model, request.input_specs)
                named = [culprit] if culprit is not None else []
            return fx_nodes_of(named, traced, request.module)

        built = self._build(
            trt, spec, flags, capabilities, parse, what, request.input_specs, request.output_specs,
            request.progress_label, blame,
        )
        weights = onnx_weights(onnx_program.model_proto) if spec.external_weights else ()
        built = dataclasses.replace(built, external_weights=weights)
        if key is not None:
            self._built[key] = built
        return dataclasses.replace(built, onnx_seconds=onnx_seconds)

    def build_onnx_file(
        self, path: str, spec: TensorRTCompileSpec, inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec]
    ) -> BuiltEngine:
        """Build the engine of an ONNX model file whose I/O are ``inputs``/``outputs``."""
        trt = self._import()
        flags = _builder_flags(self.name, trt, spec)
        capabilities = _compute_capabilities(self.name, trt, spec.compute_capabilities)
        parse = lambda parser: bool(parser.parse_from_file(str(path)))  # noqa: E731
        return self._build(trt, spec, flags, capabilities, parse, f"ONNX model {path}", inputs, outputs)

    def _build(
        self,
        trt: ModuleType,
        spec: TensorRTCompileSpec,
        flags: List[Any],
        capabilities: List[Any],
        parse: Any,
        what: str,
        inputs: Sequence[TensorSpec],
        outputs: Sequence[TensorSpec],
        label: str = "TensorRT",
        blame: Optional[Blame] = None,
    ) -> BuiltEngine:
        logger = make_logger(trt)
        builder = trt.Builder(logger)
        network = builder.create_network(_network_flags(trt))
        parser = trt.OnnxParser(network, logger)
        if not parse(parser):
            errors = _parser_errors(parser)
            raise EngineBuildError(
                f"{self.name} {trt.__version__} could not parse {what}:\n" + "\n".join(errors),
                blame(errors, False) if blame else (),
                "; ".join(e.strip() for e in errors),
            )
        _check_network_io(self.name, network, inputs, outputs)

        config = _configure(trt, builder, spec, flags, capabilities, inputs)
        cache = _load_timing_cache(config, spec.timing_cache)

        with build_progress(trt, config, label):
            serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            errors = list(logger.errors)
            if spec.external_weights and any("CUDA" in e for e in errors):
                raise ValueError(
                    f"external_weights=True: {self.name} {trt.__version__} could not build a weight-stripped, "
                    "refittable engine (BuilderFlag STRIP_PLAN + REFIT_IDENTICAL) here: its builder needs a CUDA GPU "
                    "for refittable engines. Export on a machine with an NVIDIA GPU, or leave external_weights off "
                    "(the weights then stay inside the engines). TensorRT said:\n" + format_errors(errors)
                )
            raise EngineBuildError(
                f"{self.name} {trt.__version__} failed to build the engine; last TensorRT errors:\n"
                + format_errors(errors),
                blame(errors, True) if blame else (),
                f"{self.name} {trt.__version__} refused it: " + "; ".join(_without_source_locations(errors)),
            )
        engine = bytes(memoryview(serialized))
        # TensorRT's copies of the engine and of the weights go now (the
        # parser before the network it points into).
        del serialized, parser, network
        if not engine:
            raise RuntimeError(f"{self.name} {trt.__version__} returned an empty engine")
        if cache is not None and spec.timing_cache is not None:
            _save_timing_cache(config, spec.timing_cache)
        return BuiltEngine(
            engine=engine,
            flavour=self.flavour,
            builder_version=str(trt.__version__),
            version_compatible=spec.version_compatible,
            weight_bytes=logger.weight_bytes,
            # execution_memory_bytes stays None: a TensorRT-RTX engine is
            # compiled for the device when it is loaded, so its context memory
            # is known only then (the delegate asks the engine); a TensorRT plan
            # could report it only by deserializing it on a GPU, which export
            # may not have.
        )


    def first_failing_node(
        self,
        trt: ModuleType,
        spec: TensorRTCompileSpec,
        flags: List[Any],
        capabilities: List[Any],
        model: Any,
        inputs: Sequence[TensorSpec],
    ) -> Optional[Any]:
        """The ONNX node of ``model`` (whose build fails) that makes it fail, by
        bisecting over prefixes of its nodes; None for a graph without nodes."""

        def fails(length: int) -> bool:
            logger = make_logger(trt, quiet=True)
            builder = trt.Builder(logger)
            network = builder.create_network(_network_flags(trt))
            parser = trt.OnnxParser(network, logger)
            if not parser.parse(prefix_model(model, length).SerializeToString()):
                return True
            config = _configure(trt, builder, spec, flags, capabilities, inputs)
            return builder.build_serialized_network(network, config) is None

        if not model.graph.node:
            return None
        length = first_failing_prefix(len(model.graph.node), fails)
        return model.graph.node[length - 1]


# "In processCheck at /_src/optimizer/...cpp:1066": where in TensorRT's own sources, nothing for a user.
_SOURCE_LOCATION_RE = re.compile(r"\s*In \w+ at /\S+:\d+")


def _request_key(
    onnx_bytes: bytes, spec: TensorRTCompileSpec, flags: List[Any], capabilities: List[Any], request: EngineBuildRequest
) -> str:
    """What decides the engine: the ONNX the parser gets and every build setting."""
    settings = repr((spec, [str(f) for f in flags], [str(c) for c in capabilities], request.input_specs, request.output_specs))
    digest = hashlib.sha256(onnx_bytes)  # (fed in parts: no joined copy of the ONNX)
    digest.update(b"\0" + settings.encode("utf-8"))
    return digest.hexdigest()


def _without_source_locations(errors: Sequence[str]) -> List[str]:
    return [_SOURCE_LOCATION_RE.sub("", e) for e in errors]


def _configure(
    trt: ModuleType,
    builder: Any,
    spec: TensorRTCompileSpec,
    flags: List[Any],
    capabilities: List[Any],
    inputs: Sequence[TensorSpec],
) -> Any:
    """The builder config of ``spec`` for a network with ``inputs``."""
    config = builder.create_builder_config()
    if spec.workspace_bytes is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, spec.workspace_bytes)
    if spec.optimization_level is not None:
        config.builder_optimization_level = spec.optimization_level
    for flag in flags:
        config.set_flag(flag)
    if capabilities:
        config.num_compute_capabilities = len(capabilities)
        for index, capability in enumerate(capabilities):
            config.set_compute_capability(capability, index)
    _add_profiles(builder, config, inputs)
    return config


def _builder_flags(name: str, trt: ModuleType, spec: TensorRTCompileSpec) -> List[Any]:
    wanted = [("VERSION_COMPATIBLE", spec.version_compatible, "version_compatible=True")]
    wanted.append(("WEIGHT_STREAMING", spec.enable_weight_streaming, "enable_weight_streaming=True"))
    # External weights: the plan without its refittable weights, refitted at
    # load with the very weights it was built with (so TensorRT optimizes as
    # for a plain engine; kREFIT_IDENTICAL), both builders' flags.
    wanted.append(("STRIP_PLAN", spec.external_weights, "external_weights=True"))
    wanted.append(("REFIT_IDENTICAL", spec.external_weights, "external_weights=True"))
    flags = []
    for flag_name, asked, option in wanted:
        if not asked:
            continue
        flag = getattr(trt.BuilderFlag, flag_name, None)
        if flag is None:
            raise ValueError(
                f"{option}: {name} {trt.__version__} has no {flag_name} builder flag; "
                f"build without {option.split('=')[0]} or use a TensorRT that supports it"
            )
        flags.append(flag)
    return flags


def _refittable_build_works(trt: ModuleType) -> bool:
    """A matrix product with a constant, built STRIP_PLAN + REFIT_IDENTICAL."""
    import numpy as np

    logger = make_logger(trt, quiet=True)
    builder = trt.Builder(logger)
    network = builder.create_network(_network_flags(trt))
    x = network.add_input("x", trt.float32, (1, 4))
    weights = np.ones((4, 4), dtype=np.float32)
    constant = network.add_constant((4, 4), trt.Weights(weights))
    product = network.add_matrix_multiply(x, trt.MatrixOperation.NONE, constant.get_output(0), trt.MatrixOperation.NONE)
    network.mark_output(product.get_output(0))
    config = builder.create_builder_config()
    for name in ("STRIP_PLAN", "REFIT_IDENTICAL"):
        flag = getattr(trt.BuilderFlag, name, None)
        if flag is None:
            return False
        config.set_flag(flag)
    # TensorRT-RTX prints its refusal ("MyelinCheckException ... CUDA") to
    # the process's stderr itself, past the logger: a question is not an error.
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            try:
                return builder.build_serialized_network(network, config) is not None
            except Exception:  # noqa: BLE001 - any failure means no
                return False
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _compute_capabilities(name: str, trt: ModuleType, targets: Sequence[str]) -> List[Any]:
    if not targets:
        return []
    enum = getattr(trt, "ComputeCapability", None)
    if enum is None:
        raise ValueError(
            f"compute_capabilities={list(targets)}: {name} {trt.__version__} builds for the GPU it runs on "
            "and takes no compute-capability targets; use engine_builder='tensorrt_rtx' or leave them out"
        )
    known = sorted(m.lower() for m in dir(enum) if m.startswith("SM"))
    values = []
    for target in targets:
        value = getattr(enum, target.upper(), None)
        if value is None:
            raise ValueError(
                f"compute capability {target!r} is not a {name} {trt.__version__} target; known: {', '.join(known)}"
            )
        values.append(value)
    return values


def _add_profiles(builder: Any, config: Any, inputs: Sequence[TensorSpec]) -> None:
    dynamic = [s for s in inputs if dynamic_axes(s)]
    if not dynamic:
        return
    for index in range(len(dynamic[0].ranges)):
        profile = builder.create_optimization_profile()
        for spec in dynamic:
            shape_range = spec.ranges[index]
            profile.set_shape(spec.name, shape_range.min, shape_range.opt, shape_range.max)
        if config.add_optimization_profile(profile) < 0:
            raise ValueError(f"TensorRT refused optimization profile {index}: {[s.ranges[index] for s in dynamic]}")


def _load_timing_cache(config: Any, path: Optional[str]) -> Any:
    if path is None:
        return None
    data = b""
    if os.path.exists(path):
        with open(path, "rb") as file:
            data = file.read()
    cache = config.create_timing_cache(data)
    if cache is None or not config.set_timing_cache(cache, False):
        raise ValueError(f"timing cache {path} could not be used (corrupt or from another TensorRT version); delete it")
    return cache


def _save_timing_cache(config: Any, path: str) -> None:
    data = bytes(memoryview(config.get_timing_cache().serialize()))
    # Written whole then renamed, so a concurrent build never reads half a cache.
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as file:
        file.write(data)
    os.replace(tmp, path)


def _network_flags(trt: ModuleType) -> int:
    # Strongly typed: TensorRT keeps the graph's dtypes (fp16 stays fp16, fp32
    # stays fp32) as PyTorch ran them. TensorRT-RTX networks always are; full
    # TensorRT needs the flag. Explicit batch is the only mode since TensorRT 10.
    flag = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    return 0 if flag is None else 1 << int(flag)


def _parse(parser: Any, onnx_program: Any) -> bool:
    data = serialized_onnx(onnx_program.model_proto)  # (model_proto makes it anew: no copy kept beside data)
    if data is not None:
        return bool(parser.parse(data))
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
            dynamic = set(dynamic_axes(s))
            want = tuple(-1 if axis in dynamic else dim for axis, dim in enumerate(s.ranges[0].opt))
            # Outputs may come out dynamic where TensorRT cannot prove a size fixed.
            # (the ranks are compared first, so zip sees equal lengths)
            same_rank = len(shape) == len(want)
            fits = same_rank and all(
                g == w or (kind == "output" and g == -1) for g, w in zip(shape, want, strict=False)
            )
            if not fits:
                problems.append(f"{kind} {s.name}: expected shape {list(want)}, the network has {list(shape)}")
            if dtype is not None and dtype != s.dtype:
                problems.append(f"{kind} {s.name}: expected dtype code {s.dtype}, the network has {dtype}")
    if problems:
        raise RuntimeError(
            f"the {builder_name} network does not match the delegate's signature:\n"
            + "\n".join(f"  {p}" for p in problems)
        )


# ONNX TensorProto element types of the weights a stripped plan leaves out
# (floating and int8 weights; integer initializers are shape data TensorRT
# keeps in the plan) -> torch dtype.
_ONNX_WEIGHT_DTYPES = {1: torch.float32, 10: torch.float16, 16: torch.bfloat16, 3: torch.int8}


def onnx_weights(model: Any) -> Tuple[Tuple[str, torch.Tensor], ...]:
    """The weights TensorRT's refitter asks a stripped engine of ``model`` for,
    by the names it uses: the ONNX parser names each weight after its
    initializer (what TensorRT's OnnxParserRefitter sets). Ones the engine
    folded in are ignored by the delegate's refit."""
    from onnx import numpy_helper

    weights = []
    for initializer in model.graph.initializer:
        dtype = _ONNX_WEIGHT_DTYPES.get(initializer.data_type)
        if dtype is None:
            continue
        shape = tuple(int(d) for d in initializer.dims)
        if initializer.raw_data:
            raw = torch.frombuffer(bytearray(initializer.raw_data), dtype=torch.uint8)
            tensor = raw.view(dtype).reshape(shape)
        elif dtype == torch.bfloat16:  # stored as uint16 bit patterns in int32_data
            tensor = torch.tensor(list(initializer.int32_data), dtype=torch.int32).to(torch.int16).view(dtype).reshape(shape)
        else:
            tensor = torch.from_numpy(numpy_helper.to_array(initializer).copy()).to(dtype).reshape(shape)
        weights.append((initializer.name, tensor.contiguous()))
    return tuple(weights)


def _network_tensors(count: int, get: Any) -> Dict[str, tuple]:
    tensors = {}
    for i in range(count):
        tensor = get(i)
        dtype_name = getattr(tensor.dtype, "name", "")
        tensors[tensor.name] = (tuple(int(d) for d in tensor.shape), TENSORRT_CODES.get(dtype_name))
    return tensors
