"""An engine builder for the TensorRT runtime double (a test double, NOT TensorRT).

Its engines are plans of the double's own format
(``tests/gpu/trt_double/PLAN_FORMAT.md``), carried in ordinary ``tensorrt``
blobs (builder version 11.1.0, version-compatible) so the exporter, the blob
and the delegate's compatibility check run unchanged; on a GPU machine the
double (``libnvinfer_lean.so.11`` from ``tests/gpu/trt_double``) runs them.

Register it with ``register_engine_builder("trt_double", DoubleEngineBuilder())``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import torch
from executorch_tensorrt.exporter.blob import Flavour
from executorch_tensorrt.exporter.builders import BuiltEngine, EngineBuildRequest
from executorch_tensorrt.exporter.state import state_aliases

HEADER = "trt-runtime-double-plan 1"
FLOAT32 = 6  # ExecuTorch ScalarType code
INT64 = 4
# The TensorRT API version the double implements (tests/gpu/trt_double/trt_double.cu).
DOUBLE_TENSORRT_VERSION = "11.1.0"

_BINARY = {"aten::add.Tensor": "add", "aten::sub.Tensor": "sub", "aten::mul.Tensor": "mul",
           "aten::add.Scalar": "add", "aten::sub.Scalar": "sub", "aten::mul.Scalar": "mul"}
_UNARY = {"aten::relu": "relu", "aten::neg": "neg", "aten::clone": "copy", "aten::alias_copy": "copy",
          "aten::detach_copy": "copy", "dim_order_ops::_clone_dim_order": "copy"}
_LINEAR = {"aten::addmm", "aten::mm", "aten::linear"}
_NONZERO = "aten::nonzero"  # int64 indices of a data-dependent count (PLAN_FORMAT.md)
_WEIGHT_ONLY = {"aten::permute_copy", "aten::t_copy", "aten::t", "aten::permute"}


def _op_name(target: object) -> str:
    name = getattr(target, "name", None)
    full = name() if callable(name) else getattr(target, "__name__", repr(target))
    return full[: -len(".default")] if full.endswith(".default") else full


def _literal(value: float) -> str:
    if not math.isfinite(value):
        raise NotImplementedError(f"double builder: literal {value} is not finite")
    return repr(float(value))


@dataclass
class DoubleEngineBuilder:
    """Builds double plans from aten graphs of float32 elementwise ops and linear layers.

    With the compile spec's ``enable_weight_streaming`` the weights (not the
    biases) are the engine's streamable weights. ``pad_bytes``: extra weight
    bytes no op reads (streamable with weight streaming), to give engines a size;
    ``activation_extra``/``run_delay_us``: see PLAN_FORMAT.md. ``end_line``:
    each plan ends in an ``end`` line, after which the double reads nothing
    (tests/large_programs.py grows such programs past 4 GiB).
    """

    __test__ = False
    name: str = "trt_double"
    pad_bytes: int = 0
    activation_extra: int = 0
    run_delay_us: int = 0
    # Owned state (exporter/state.py): engines read and write the buffers a
    # delegate owns; with alias_state each state output aliases its input.
    builds_state = True
    alias_state: bool = False
    # False: like TensorRT-RTX without a GPU, no weight-stripped refittable
    # plans; external weights become engine inputs (read-only state).
    builds_refittable_engines: bool = True
    end_line: bool = False
    plans: List[bytes] = field(default_factory=list, repr=False)  # every plan built, in order

    def unsupported_nodes(self, program: object, nodes: Sequence[torch.fx.Node], spec: object) -> Dict[str, str]:
        """``{node name: reason}`` for what the double cannot compute (left on the CPU)."""
        return {n.name: why for n in nodes if (why := node_problem(n))}

    def build(self, request: EngineBuildRequest) -> BuiltEngine:
        stripped: Dict[str, torch.Tensor] = {}
        text = plan_text(
            request, self.pad_bytes, self.activation_extra, self.run_delay_us, self.alias_state, stripped
        )
        self.plans.append((text + "end\n" if self.end_line else text).encode("utf-8"))
        return BuiltEngine(
            engine=self.plans[-1],
            flavour=Flavour.TENSORRT,
            builder_version=DOUBLE_TENSORRT_VERSION,
            version_compatible=True,
            external_weights=tuple(stripped.items()),
        )


def node_problem(node: torch.fx.Node) -> str:
    """Why the double cannot compute ``node`` ('' when it can)."""
    op = _op_name(node.target)
    if op == _NONZERO or (op in _UNARY and _is_nonzero(node.args[0])):
        # nonzero of float32, with the row-major copy the exporter adds (exporter/data_dependent.py).
        source = node.args[0]
        ok = isinstance(source, torch.fx.Node) and source.meta["val"].dtype in (torch.float32, torch.int64)
        return "" if ok else "the double's nonzero reads float32 only"
    if op not in _UNARY and op not in _BINARY and op not in _LINEAR and op not in _WEIGHT_ONLY:
        return f"the double has no {op}"
    values = [node.meta.get("val"), *(a.meta.get("val") for a in node.all_input_nodes)]
    if any(isinstance(v, torch.Tensor) and v.dtype != torch.float32 for v in values):
        return "the double computes float32 only"
    result = node.meta.get("val")
    if op in _BINARY:
        for arg in node.args[:2]:
            if isinstance(arg, torch.fx.Node) and isinstance(result, torch.Tensor):
                value = arg.meta["val"]
                if value.numel() != 1 and value.numel() != result.numel():
                    return f"the double cannot broadcast {list(value.shape)} to {list(result.shape)}"
    return ""


def _is_nonzero(value: object) -> bool:
    return isinstance(value, torch.fx.Node) and value.op == "call_function" and _op_name(value.target) == _NONZERO


class _Emitter:
    def __init__(
        self, module: torch.fx.GraphModule, streamable: bool, stripped: Optional[Dict[str, torch.Tensor]] = None
    ) -> None:
        self.module = module
        self.streamable = streamable
        # With external weights: the weights the plan is built without (`values
        # stripped`), by name, for the delegate to refit; None: values inline.
        self.stripped = stripped
        self.names: Dict[torch.fx.Node, str] = {}
        self.weights: Dict[torch.fx.Node, torch.Tensor] = {}  # folded constant tensors
        self.lines: List[str] = []
        self.weight_lines: List[str] = []
        self._temps = 0

    def temp(self) -> str:
        self._temps += 1
        return f"t{self._temps - 1}"

    def constant(self, node: torch.fx.Node) -> torch.Tensor:
        if node in self.weights:
            return self.weights[node]
        owner: object = self.module
        for part in str(node.target).split("."):
            owner = getattr(owner, part)
        if not isinstance(owner, torch.Tensor):
            raise NotImplementedError(f"double builder: {node.target} is not a tensor")
        return owner.detach().to(torch.float32)

    def weight(self, tensor: torch.Tensor, may_stream: bool = True) -> str:
        """Declares a [rows, cols] weight (streamable if the builder and
        ``may_stream`` say so); returns its name."""
        matrix = tensor.reshape(tensor.shape[0], -1) if tensor.dim() >= 1 else tensor.reshape(1, 1)
        if matrix.dim() == 1:
            matrix = matrix.reshape(1, -1)
        name = f"w{len(self.weight_lines) // 2}"
        kind = "streamable" if self.streamable and may_stream and self.stripped is None else "resident"
        self.weight_lines.append(f"weight {name} {kind} {matrix.shape[0]} {matrix.shape[1]}")
        if self.stripped is not None:
            self.stripped[name] = matrix.contiguous()
            self.weight_lines.append("values stripped")
        else:
            self.weight_lines.append("values " + " ".join(_literal(v) for v in matrix.reshape(-1).tolist()))
        return name

    def arg(self, value: object, op: str) -> str:
        if isinstance(value, torch.fx.Node):
            if value.op == "get_attr" or value in self.weights:
                constant = self.constant(value)
                if constant.numel() != 1:
                    raise NotImplementedError(f"double builder: {op} takes a tensor constant of shape {list(constant.shape)}")
                return _literal(float(constant.reshape(()).item()))
            if value not in self.names:
                raise NotImplementedError(f"double builder: {op} uses {value.name}, which it cannot map")
            return self.names[value]
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise NotImplementedError(f"double builder: {op} has argument {value!r}")
        return _literal(float(value))

    def emit(self, dst: str, op: str, args: Sequence[str]) -> None:
        self.lines.append(f"op {dst} = {op} {' '.join(args)}")


def _fold_weight_op(emitter: _Emitter, node: torch.fx.Node) -> None:
    source = node.args[0]
    if not isinstance(source, torch.fx.Node) or (source.op != "get_attr" and source not in emitter.weights):
        raise NotImplementedError(f"double builder: {_op_name(node.target)} of a non-constant is not supported")
    tensor = emitter.constant(source)
    dims = node.args[1] if len(node.args) > 1 else [1, 0]
    emitter.weights[node] = tensor.permute(*dims).contiguous()


def _emit_linear(emitter: _Emitter, node: torch.fx.Node, dst: str) -> None:
    op = _op_name(node.target)
    if op == "aten::addmm":
        bias, x, w = node.args[:3]
        if node.kwargs.get("beta", 1) != 1 or node.kwargs.get("alpha", 1) != 1:
            raise NotImplementedError("double builder: addmm with beta/alpha != 1")
    elif op == "aten::mm":
        (x, w), bias = node.args[:2], None
    else:  # aten::linear(x, weight[N, K], bias)
        x, w = node.args[:2]
        bias = node.args[2] if len(node.args) > 2 else None
    if not isinstance(w, torch.fx.Node) or (w.op != "get_attr" and w not in emitter.weights):
        raise NotImplementedError(f"double builder: {op} needs a constant weight")
    matrix = emitter.constant(w)
    if op == "aten::linear":
        matrix = matrix.t().contiguous()
    args = [emitter.arg(x, op), emitter.weight(matrix)]
    if bias is not None:
        # Biases stay resident, as small weights do in TensorRT's weight streaming.
        args.append(emitter.weight(emitter.constant(bias).reshape(1, -1), may_stream=False))
    emitter.emit(dst, "linear", args)


def plan_text(
    request: EngineBuildRequest,
    pad_bytes: int = 0,
    activation_extra: int = 0,
    run_delay_us: int = 0,
    alias_state: bool = False,
    stripped: Optional[Dict[str, torch.Tensor]] = None,
) -> str:
    """The double plan computing ``request.module`` (see DoubleEngineBuilder for
    the extras); NotImplementedError names what it lacks. With the compile
    spec's ``external_weights`` the plan is weight-stripped and its weights go
    to ``stripped``."""
    streamable = bool(request.compile_spec.enable_weight_streaming)
    for spec in (*request.input_specs, *request.output_specs):
        if spec.dtype != FLOAT32 and not (spec.dtype == INT64 and spec in request.output_specs):
            raise NotImplementedError(f"double builder: tensor {spec.name} is not float32 (or nonzero's int64)")
    module = request.module
    if not isinstance(module, torch.fx.GraphModule):
        module = torch.export.export(module, tuple(request.example_inputs), strict=False).module()
    external = bool(getattr(request.compile_spec, "external_weights", False))
    emitter = _Emitter(module, streamable, (stripped if stripped is not None else {}) if external else None)
    graph = module.graph
    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    if len(placeholders) != len(request.input_specs):
        raise NotImplementedError(f"double builder: graph has {len(placeholders)} inputs, the request {len(request.input_specs)}")
    for node, spec in zip(placeholders, request.input_specs, strict=True):
        emitter.names[node] = spec.name
    returned = next(n for n in graph.nodes if n.op == "output").args[0]
    results = list(returned) if isinstance(returned, (tuple, list)) else [returned]
    direct: Dict[torch.fx.Node, str] = {}
    copies = []
    for value, spec in zip(results, request.output_specs, strict=True):
        if isinstance(value, torch.fx.Node) and value.op == "call_function" and value not in direct:
            direct[value] = spec.name
        else:
            copies.append((spec.name, value))
    pending: Dict[torch.fx.Node, str] = {}  # nonzero nodes whose row-major copy is the output
    for node in graph.nodes:
        if node.op != "call_function":
            if node.op in ("placeholder", "output", "get_attr") or node.target == "_guards_fn":
                continue
            raise NotImplementedError(f"double builder: node {node.name} ({node.op}) is not supported")
        op = _op_name(node.target)
        if op in _WEIGHT_ONLY:
            _fold_weight_op(emitter, node)
            continue
        dst = direct.get(node) or emitter.temp()
        emitter.names[node] = dst
        if op == _NONZERO:
            if node not in direct:
                pending[node] = emitter.arg(node.args[0], op)  # its row-major copy is the output
            else:
                emitter.emit(dst, "nonzero", [emitter.arg(node.args[0], op)])
        elif op in _UNARY and node.args[0] in pending:
            if node not in direct:
                raise NotImplementedError("double builder: nonzero's result must be an engine output")
            emitter.emit(dst, "nonzero", [pending[node.args[0]]])
        elif op in _LINEAR:
            _emit_linear(emitter, node, dst)
        elif op in _UNARY:
            emitter.emit(dst, _UNARY[op], [emitter.arg(node.args[0], op)])
        elif op in _BINARY:
            left, right = (emitter.arg(a, op) for a in node.args[:2])
            alpha = node.kwargs.get("alpha", node.args[2] if len(node.args) > 2 else 1)
            if alpha != 1:
                scaled = emitter.temp()
                emitter.emit(scaled, "mul", [right, _literal(float(alpha))])
                right = scaled
            emitter.emit(dst, _BINARY[op], [left, right])
        else:
            raise NotImplementedError(f"double builder: operator {op} ({node.name}) is not supported")
    for name, value in copies:
        emitter.emit(name, "copy", [emitter.arg(value, "output")])

    profiles = len(request.input_specs[0].ranges) if request.input_specs else 1
    lines = [HEADER, f"profiles {profiles}"]
    lines += [f"input {s.name} {len(s.ranges[0].min)}" for s in request.input_specs]
    # Reversed on purpose: the delegate binds engine tensors by name.
    lines += [f"output {s.name}" for s in reversed(request.output_specs)]
    for spec in request.input_specs:
        for index, r in enumerate(spec.ranges):
            lines.append(f"range {spec.name} {index} " + " ".join(",".join(map(str, d)) for d in (r.min, r.opt, r.max)))
    lines += emitter.weight_lines
    if pad_bytes:
        lines.append(f"pad {'streamable' if streamable else 'resident'} {pad_bytes}")
    lines.append(f"activation_extra {activation_extra}")
    lines.append(f"run_delay_us {run_delay_us}")
    if alias_state:
        lines += [f"alias {out} {inp}" for out, inp in state_aliases([s.name for s in request.output_specs])]
    lines += emitter.lines
    return "\n".join(lines) + "\n"
