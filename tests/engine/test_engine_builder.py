"""An engine builder for the CPU test engine (``tests/engine/PROGRAM_FORMAT.md``).

It lets the whole export -> .pte -> delegate path run on machines without a
GPU: instead of a TensorRT plan, the "engine" is a small text program of
float32 elementwise ops, weights and the 2-d ops a small decoder's attention
needs (mm, transpose, softmax, index_put) that the test engine interprets.

Register it with ``register_engine_builder("test", TestEngineBuilder())`` (the
``test_engine_builder`` fixture in ``tests/conftest.py`` does).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Dict, List, Optional, Sequence, Union

import torch
from executorch_tensorrt.exporter.blob import Flavour, TensorSpec
from executorch_tensorrt.exporter.builders import BuiltEngine, EngineBuildRequest
from executorch_tensorrt.exporter.state import state_aliases

HEADER = "etrt-test-engine 1"
FLOAT32 = 6  # ExecuTorch ScalarType code
INT64 = 4

# Ops whose result has a data-dependent size (known only after the run):
# OpOverload.name() -> test-engine op. nonzero's indices are int64.
_DATA_DEPENDENT = {"aten::nonzero": "nonzero"}

# OpOverload.name() -> test-engine op.
_BINARY = {
    "aten::add.Tensor": "add",
    "aten::sub.Tensor": "sub",
    "aten::mul.Tensor": "mul",
    "aten::add.Scalar": "add",
    "aten::sub.Scalar": "sub",
    "aten::mul.Scalar": "mul",
}
_UNARY = {
    "aten::relu": "relu",
    "aten::neg": "neg",
    "aten::clone": "copy",
    "aten::alias": "copy",
    "aten::alias_copy": "copy",
    "aten::detach": "copy",
    "aten::detach_copy": "copy",
    "dim_order_ops::_clone_dim_order": "copy",
}

# Ops that see their operands' shapes (PROGRAM_FORMAT.md), what a small
# decoder's attention needs: matmul, transpose, softmax, a cache write.
_SHAPED = {
    "aten::mm": "mm",
    "aten::permute_copy": "transpose",
    "aten::_softmax": "softmax",
    "aten::index_put": "index_put",
}

Arg = Union[str, float]  # a tensor name in the program, or a float literal


class TestEngineBuilder:
    """Builds test-engine programs from aten graphs of elementwise float32 ops."""

    __test__ = False  # not a pytest test class despite its name

    name = "test"
    version = "1.0.0"
    # Engines may read and write the mutable buffers a delegate owns (the
    # partitioner then puts them inside; exporter/state.py).
    builds_state = True
    alias_state = False

    def __init__(self, alias_state: bool = False, refits: bool = True) -> None:
        """``alias_state``: each state output is declared aliased to its input
        (``alias`` lines), as TensorRT's getAliasedInputTensor reports; else
        the delegate updates the state with a device-to-device copy.
        ``refits=False``: like TensorRT-RTX without a GPU, it builds no
        refittable engines, so external weights become engine inputs."""
        self.alias_state = alias_state
        self.builds_refittable_engines = refits

    def unsupported_nodes(self, program: object, nodes: Sequence[torch.fx.Node], spec: object) -> Dict[str, str]:
        """``{node name: reason}`` for what the test engine cannot compute, so
        the partitioner leaves those nodes on the CPU."""
        signature = program.graph_signature  # type: ignore[attr-defined]
        mutated = set(signature.buffers_to_mutate.values())
        # A mutated buffer is an engine input like a user input (the delegate may own it).
        user_inputs = set(signature.user_inputs) | {
            name for name, fqn in signature.inputs_to_buffers.items() if fqn in mutated
        }
        external = bool(getattr(spec, "external_weights", False))
        reasons = {}
        for node in nodes:
            problem = node_problem(node, user_inputs, external)
            if problem:
                reasons[node.name] = problem
        return reasons

    def build(self, request: EngineBuildRequest) -> BuiltEngine:
        weights: Dict[str, torch.Tensor] = {}
        program = program_text(request, self.alias_state, weights)
        return BuiltEngine(
            engine=program.encode("utf-8"), flavour=Flavour.TEST, builder_version=self.version, version_compatible=False,
            external_weights=tuple(weights.items()),
        )


def _graph_module(request: EngineBuildRequest) -> torch.fx.GraphModule:
    if isinstance(request.module, torch.fx.GraphModule):
        return request.module
    exported = torch.export.export(request.module, tuple(request.example_inputs), strict=False)
    return exported.module()


def _op_name(target: object) -> str:
    name = getattr(target, "name", None)
    # OpOverload and ExecuTorch's EdgeOpOverload both have name() -> "ns::op.overload".
    return name() if callable(name) else getattr(target, "__name__", repr(target))


def _literal(value: float) -> str:
    if not math.isfinite(value):
        raise NotImplementedError(f"test engine builder: literal {value} is not finite")
    return repr(float(value))


class _Emitter:
    def __init__(self, module: torch.fx.GraphModule, weights: Optional[Dict[str, torch.Tensor]] = None) -> None:
        self.module = module
        # With external weights, the tensors ops use by name (`weight` lines,
        # refitted at load); None: only scalar constants, as literals.
        self.weights = weights
        self.names: Dict[torch.fx.Node, str] = {}
        self.lines: List[str] = []
        self.constants: List[str] = []  # `const` lines of the weights used
        self._temps = 0

    def temp(self) -> str:
        self._temps += 1
        return f"t{self._temps - 1}"

    def arg(self, value: object, op: str) -> Arg:
        if isinstance(value, torch.fx.Node):
            if value.op == "get_attr":
                return self._constant(value, op)
            if value not in self.names:
                raise NotImplementedError(
                    f"test engine builder: {op} uses {value.name} ({value.op}), which it cannot map"
                )
            return self.names[value]
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise NotImplementedError(f"test engine builder: {op} has argument {value!r}, not a tensor or a number")
        return float(value)

    def _constant(self, node: torch.fx.Node, op: str) -> Arg:
        # Scalars of the model (x * 2.0) arrive as lifted 0-d tensor
        # constants and become literals; weights become `const` lines, or
        # `weight` lines (refitted at load) with external weights.
        owner: object = self.module
        for part in str(node.target).split("."):
            owner = getattr(owner, part)
        if not isinstance(owner, torch.Tensor) or owner.dtype != torch.float32:
            raise NotImplementedError(f"test engine builder: {op} uses the constant {node.target}, not a float32 tensor")
        if owner.numel() == 1 and op not in _SHAPED:
            return float(owner.reshape(()).item())
        if self.weights is not None:
            self.weights[str(node.target)] = owner.detach().contiguous()
            return str(node.target)
        if node not in self.names:
            name = f"w{len(self.constants)}"
            values = " ".join(_literal(v) for v in owner.detach().reshape(-1).tolist())
            self.constants.append(f"const {name} {_shape(list(owner.shape))} {values}")
            self.names[node] = name
        return self.names[node]

    def emit(self, dst: str, op: str, args: Sequence[Arg]) -> None:
        if not any(isinstance(a, str) for a in args):
            raise NotImplementedError(f"test engine builder: {op} needs at least one tensor argument")
        text = " ".join(a if isinstance(a, str) else _literal(a) for a in args)
        self.lines.append(f"{dst} = {op} {text}")


def _check_float32(node: torch.fx.Node, what: str) -> None:
    value = node.meta.get("val")
    if isinstance(value, torch.Tensor) and value.dtype != torch.float32:
        raise NotImplementedError(
            f"test engine builder: {what} is {value.dtype}; the test engine computes float32 only"
        )


def _no_broadcast(node: torch.fx.Node, op: str, module: torch.fx.GraphModule) -> None:
    # The test engine has no broadcasting: tensor operands must match the result.
    result = node.meta.get("val")
    for arg in node.args[:2]:
        if not isinstance(arg, torch.fx.Node) or not isinstance(result, torch.Tensor):
            continue
        if arg.op == "get_attr":  # a weight (scalars become literals)
            value: object = module
            for part in str(arg.target).split("."):
                value = getattr(value, part)
            if isinstance(value, torch.Tensor) and value.numel() != 1 and value.shape != result.shape:
                raise NotImplementedError(f"test engine builder: {op} broadcasts weight {list(value.shape)}")
        else:
            shape = arg.meta["val"].shape
            if shape != result.shape:
                raise NotImplementedError(f"test engine builder: {op} broadcasts {list(shape)} to {list(result.shape)}")


def _shaped_problem(node: torch.fx.Node, op: str) -> str:
    """Why a shaped op (``_SHAPED``) is outside what the test engine takes."""
    args = node.args
    if op == "aten::permute_copy" and list(args[1]) != [1, 0]:
        return "the test engine transposes 2-d tensors only"
    if op == "aten::_softmax" and args[1] not in (-1, len(node.meta["val"].shape) - 1):
        return "the test engine's softmax runs over the last dim only"
    if op == "aten::index_put":
        indices = args[1]
        if len(indices) != 1 or not isinstance(indices[0], torch.fx.Node) or (len(args) > 3 and args[3]):
            return "the test engine writes whole rows of dim 0 (index_put with one index tensor, no accumulate)"
    if op == "aten::mm" and any(len(a.meta["val"].shape) != 2 for a in node.all_input_nodes):
        return "the test engine multiplies 2-d matrices only"
    return ""


def _float32_values(node: torch.fx.Node) -> List[object]:
    """The values that must be float32: all but index_put's positions (int64 is fine there)."""
    skip = set(node.args[1]) if _op_name(node.target) == "aten::index_put" else set()
    return [node.meta.get("val"), *(a.meta.get("val") for a in node.all_input_nodes if a.op != "get_attr" and a not in skip)]


def node_problem(node: torch.fx.Node, user_inputs: "set[str]", external_weights: bool = False) -> str:
    """Why the test engine cannot compute ``node`` ('' when it can). Weight
    tensors it takes only when they are kept outside the engine (refitted)."""
    op = _op_name(node.target)
    if op in _DATA_DEPENDENT:
        return _data_dependent_problem(node)
    if op in _UNARY and _is_nonzero(node.args[0]):
        return ""  # the row-major clone of nonzero's result (exporter/data_dependent.py): nonzero writes row-major
    if op not in _UNARY and op not in _BINARY and op not in _SHAPED:
        return f"the test engine has no {op}"
    if any(isinstance(v, torch.Tensor) and v.dtype != torch.float32 for v in _float32_values(node)):
        return "the test engine computes float32 only"
    if op in _SHAPED:
        return _shaped_problem(node, op)
    result = node.meta.get("val")
    for arg in node.args[:2]:
        if not isinstance(arg, torch.fx.Node):
            continue
        shape = arg.meta["val"].shape
        scalar = arg.op == "placeholder" and arg.name not in user_inputs and arg.meta["val"].numel() == 1
        if not scalar and isinstance(result, torch.Tensor) and shape != result.shape:
            return f"the test engine cannot broadcast {list(shape)} to {list(result.shape)}"
    return ""


def _data_dependent_problem(node: torch.fx.Node) -> str:
    # nonzero reads float32 and writes int64 indices, which no other test
    # engine op takes: its result can only leave the engine as an output.
    source = node.args[0]
    if not isinstance(source, torch.fx.Node) or source.meta["val"].dtype != torch.float32:
        return "the test engine's nonzero reads float32 only"
    return ""


def _is_nonzero(value: object) -> bool:
    is_call = isinstance(value, torch.fx.Node) and value.op == "call_function"
    return is_call and _op_name(value.target) in _DATA_DEPENDENT


def _nonzero_results(module: torch.fx.GraphModule) -> "set[torch.fx.Node]":
    """nonzero nodes and copies of them: the nodes that carry its int64 result."""
    nodes = module.graph.nodes
    copies = {n for n in nodes if n.op == "call_function" and _op_name(n.target) in _UNARY and _is_nonzero(n.args[0])}
    return {n for n in nodes if _is_nonzero(n)} | copies


def program_text(
    request: EngineBuildRequest, alias_state: bool = False, weights: Optional[Dict[str, torch.Tensor]] = None
) -> str:
    """The test-engine program computing ``request.module``. With
    ``compile_spec.external_weights`` it is weight-stripped: weight tensors are
    declared (`weight` lines) and collected into ``weights`` by name. With
    ``alias_state`` each state output (``state_out_<k>``) is declared aliased
    to its input (``state_in_<k>``).

    Raises NotImplementedError naming any operator the test engine lacks.
    """
    if weights is None:
        weights = {}
    module = _graph_module(request)
    graph = module.graph
    emitter = _Emitter(module, weights if getattr(request.compile_spec, "external_weights", False) else None)
    data_dependent = _nonzero_results(module)

    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    if len(placeholders) != len(request.input_specs):
        raise NotImplementedError(
            f"test engine builder: graph has {len(placeholders)} inputs, the request {len(request.input_specs)}"
        )
    for node, spec in zip(placeholders, request.input_specs, strict=True):
        emitter.names[node] = spec.name

    output_node = next(n for n in graph.nodes if n.op == "output")
    returned = output_node.args[0]
    results: List[object] = list(returned) if isinstance(returned, (tuple, list)) else [returned]
    if len(results) != len(request.output_specs):
        raise NotImplementedError(
            f"test engine builder: graph returns {len(results)} values, "
            f"the request has {len(request.output_specs)} outputs"
        )
    # An operator's result is written straight to the output it becomes, once;
    # inputs and repeated results are copied into their outputs afterwards.
    direct: Dict[torch.fx.Node, str] = {}
    copies: List[tuple] = []
    for value, spec in zip(results, request.output_specs, strict=True):
        if isinstance(value, torch.fx.Node) and value.op == "call_function" and value not in direct:
            direct[value] = spec.name
        else:
            copies.append((spec.name, value))
    for spec in request.input_specs:
        if spec.dtype not in (FLOAT32, INT64):
            raise NotImplementedError(f"test engine builder: tensor {spec.name} is not float32 (or an int64 input)")
    for value, spec in zip(results, request.output_specs, strict=True):
        expected = INT64 if value in data_dependent and direct.get(value) == spec.name else FLOAT32
        if spec.dtype != expected:
            raise NotImplementedError(
                f"test engine builder: output {spec.name} has dtype code {spec.dtype}, not {expected}"
            )
    for node in data_dependent:
        carried = node in direct or any(user in direct for user in node.users if user in data_dependent)
        if not carried:
            raise NotImplementedError(
                f"test engine builder: nonzero's result ({node.name}) must be an engine output, once"
            )
    pending: Dict[torch.fx.Node, Arg] = {}  # nonzero nodes whose copy becomes the output

    for node in graph.nodes:
        if node.op != "call_function":
            # _guards_fn: torch.export's check of the input shapes; no data flows from it.
            if node.op in ("placeholder", "output", "get_attr") or node.target == "_guards_fn":
                continue
            raise NotImplementedError(f"test engine builder: node {node.name} ({node.op}) is not supported")
        op = _op_name(node.target)
        dst = direct.get(node) or emitter.temp()
        emitter.names[node] = dst
        if op in _DATA_DEPENDENT and node not in direct:
            pending[node] = emitter.arg(node.args[0], op)
            continue
        if op in _DATA_DEPENDENT or node.args[0] in pending:
            # The engine's nonzero writes row-major: a copy of it is the nonzero.
            source = emitter.arg(node.args[0], op) if op in _DATA_DEPENDENT else pending[node.args[0]]
            emitter.emit(dst, "nonzero", [source])
            continue
        if op not in _SHAPED:
            _check_float32(node, f"{op} ({node.name})")
        if op in _SHAPED:
            problem = _shaped_problem(node, op)
            if problem:
                raise NotImplementedError(f"test engine builder: {op} ({node.name}): {problem}")
            operands = [node.args[0], node.args[1][0], node.args[2]] if op == "aten::index_put" else node.args[:2]
            if op in ("aten::permute_copy", "aten::_softmax"):
                operands = node.args[:1]
            emitter.emit(dst, _SHAPED[op], [emitter.arg(a, _SHAPED[op]) for a in operands])
        elif op in _UNARY:
            emitter.emit(dst, _UNARY[op], [emitter.arg(node.args[0], op)])
        elif op in _BINARY:
            _no_broadcast(node, op, module)
            left, right = (emitter.arg(a, op) for a in node.args[:2])
            alpha = node.kwargs.get("alpha", node.args[2] if len(node.args) > 2 else 1)
            if alpha != 1:
                if _BINARY[op] == "mul" or not isinstance(right, str):
                    raise NotImplementedError(f"test engine builder: {op} with alpha={alpha} on a literal")
                scaled = emitter.temp()
                emitter.emit(scaled, "mul", [right, float(alpha)])
                right = scaled
            emitter.emit(dst, _BINARY[op], [left, right])
        else:
            supported = ", ".join(sorted({*_BINARY, *_UNARY, *_SHAPED, *_DATA_DEPENDENT}))
            raise NotImplementedError(
                f"test engine builder: operator {op} ({node.name}) is not supported; supported: {supported}"
            )

    for name, value in copies:
        emitter.emit(name, "copy", [emitter.arg(value, "output")])

    # Like a TensorRT engine, the program records the shapes it was built for
    # (the delegate checks them against the blob at load).
    lines = [HEADER]
    lines += [f"input {spec.name} {_engine_shape(spec)}{' int64' if spec.dtype == INT64 else ''}" for spec in request.input_specs]
    # Reversed on purpose: the delegate must bind engine tensors by name, not position.
    lines += [f"output {spec.name} {_engine_shape(spec)}" for spec in reversed(request.output_specs)]
    lines += [
        f"profile {spec.name} {_shape(r.min)} {_shape(r.opt)} {_shape(r.max)}"
        for spec in request.input_specs
        for r in spec.ranges
    ]
    if alias_state:
        lines += [f"alias {out} {inp}" for out, inp in state_aliases([s.name for s in request.output_specs])]
    lines += emitter.constants
    lines += [f"weight {name} {_shape(tensor.shape)}" for name, tensor in weights.items()]
    lines += emitter.lines
    return "\n".join(lines) + "\n"


def _shape(dims: Sequence[int]) -> str:
    return "[" + ",".join(str(d) for d in dims) + "]"


def _engine_shape(spec: TensorSpec) -> str:
    """The tensor's dims, -1 where its profiles' ranges let a dim vary."""
    first = spec.ranges[0].min
    return _shape([lo if all(r.min[d] == r.max[d] == lo for r in spec.ranges) else -1 for d, lo in enumerate(first)])


def parse_program(text: str) -> Dict[str, List[str]]:
    """Minimal reader for tests: ``{"inputs": [...], "outputs": [...], "ops": [...]}``."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if not lines or lines[0] != HEADER:
        raise ValueError("not a test-engine program")
    result: Dict[str, List[str]] = {"inputs": [], "outputs": [], "weights": [], "ops": []}
    for line in lines[1:]:
        kind, _, rest = line.partition(" ")
        if kind == "input":
            result["inputs"].append(rest.split()[0])
        elif kind == "weight":
            result["weights"].append(rest.split()[0])
        elif kind == "output":
            result["outputs"].append(rest.split()[0])
        elif kind not in ("profile", "alias"):
            result["ops"].append(line)
    return result


def run_program(text: str, inputs: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Interpret a test-engine program in Python (a reference for the tests).

    Mirrors PROGRAM_FORMAT.md's elementwise ops (DST takes the shape of its
    first tensor argument); nonzero gives int64 indices; programs with shaped
    ops or constants are the engine's alone. ``inputs`` also holds the program's weights.
    """
    parsed = parse_program(text)
    names = parsed["inputs"] + parsed["weights"]
    env: Dict[str, torch.Tensor] = {name: inputs[name].to(torch.float32) for name in names}
    for line in parsed["ops"]:
        dst, _, expr = line.partition(" = ")
        op, *raw = expr.split()
        args = [env[a] if a in env else float(a) for a in raw]
        first = next(a for a in args if isinstance(a, torch.Tensor))
        flat = [a.reshape(-1) if isinstance(a, torch.Tensor) else a for a in args]
        if op == "add":
            out = flat[0] + flat[1]
        elif op == "sub":
            out = flat[0] - flat[1]
        elif op == "mul":
            out = flat[0] * flat[1]
        elif op == "relu":
            out = torch.relu(flat[0])
        elif op == "neg":
            out = -flat[0]
        elif op == "copy":
            out = flat[0].clone()
        elif op == "nonzero":
            env[dst] = torch.nonzero(first)
            continue
        else:
            raise ValueError(f"unknown op {op!r}")
        env[dst] = torch.as_tensor(out, dtype=torch.float32).reshape(first.shape)
    return {name: env[name] for name in parsed["outputs"]}


class EndedEngineBuilder(TestEngineBuilder):
    """The test builder, each program closed by an ``end`` line (after which
    the test engine reads nothing: tests/large_programs.py grows such programs
    past 4 GiB with a sparse hole)."""

    __test__ = False

    def build(self, request: EngineBuildRequest) -> BuiltEngine:
        built = super().build(request)
        return dataclasses.replace(built, engine=built.engine.rstrip(b"\n") + b"\nend\n")
