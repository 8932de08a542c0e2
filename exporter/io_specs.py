"""The delegate's I/O signature, derived from the edge program given to preprocess.

The delegate receives the partition's user inputs in graph-signature order and
returns its outputs in output order; the engine's tensors are named
``input_<i>`` / ``output_<i>`` after those positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

import sympy
import torch
from torch._prims_common import is_contiguous_or_false
from torch.fx.experimental.symbolic_shapes import free_unbacked_symbols
from torch.utils._sympy.numbers import int_oo
from torch.export import ExportedProgram
from torch.export.graph_signature import OutputKind

from ..dtypes import TENSORRT_IO
from .blob import ShapeRange, TensorSpec
from .compile_specs import DimRange, Profile

# torch dtype -> ExecuTorch ScalarType code, for the dtypes TensorRT takes as I/O.
SUPPORTED_DTYPES = {getattr(torch, t.name): t.code for t in TENSORRT_IO}


@dataclass(frozen=True)
class DelegateIO:
    inputs: Tuple[TensorSpec, ...]
    outputs: Tuple[TensorSpec, ...]
    # Same order as ``inputs``: what the example tensors must look like.
    input_values: Tuple[torch.Tensor, ...]


def input_name(index: int) -> str:
    return f"input_{index}"


def output_name(index: int) -> str:
    return f"output_{index}"


def _dtype_code(what: str, value: torch.Tensor) -> int:
    if value.dtype == torch.float64:
        raise ValueError(
            f"{what} is float64, which TensorRT cannot take as engine input or output; "
            "convert the model and its inputs to float32 (e.g. `model.float()`, `x.float()`) before exporting"
        )
    if value.dtype not in SUPPORTED_DTYPES:
        supported = ", ".join(str(d).replace("torch.", "") for d in SUPPORTED_DTYPES)
        raise ValueError(
            f"{what} has dtype {value.dtype}, which TensorRT I/O does not support; use one of: {supported}"
        )
    return SUPPORTED_DTYPES[value.dtype]


def _symbol_range(what: str, symbol: sympy.Symbol, shape_env: Any, profile: Profile) -> DimRange:
    """(min, opt, max) of one symbol: the user's profile, else torch.export's range and example value."""
    if str(symbol) in profile:
        return profile[str(symbol)]
    bounds = shape_env.var_to_range[symbol]
    if free_unbacked_symbols(symbol):
        return _data_dependent_range(what, symbol, bounds)
    hint = int(shape_env.var_to_val[symbol])
    # torch.export's "no max" is int_oo, which sympy calls finite and integer.
    if bounds.upper in (int_oo, sympy.oo) or not bounds.upper.is_number:
        raise ValueError(
            f"{what}: dynamic dimension {symbol} has no upper bound; TensorRT needs one: export with "
            f"torch.export.Dim(name, max=N) or give optimization_profiles=[{{'{symbol}': (min, opt, max)}}]"
        )
    low, high = int(bounds.lower), int(bounds.upper)
    return max(low, 1), min(max(hint, low), high), high


def _data_dependent_range(what: str, symbol: sympy.Symbol, bounds: Any) -> DimRange:
    """(min, max, max) of a size known only after the run (nonzero's u0): the
    delegate binds memory for the upper bound and sizes the output after the
    run (backend/execute/README.md, data-dependent output shapes)."""
    if bounds.upper in (int_oo, sympy.oo) or not bounds.upper.is_number:
        raise ValueError(
            f"{what}: the data-dependent size {symbol} (e.g. the count of torch.nonzero) has no upper bound; "
            f"the delegate plans memory for its largest value: bound it in the model, e.g. "
            f"torch._check(n <= N) on the size, or give the inputs it depends on a torch.export.Dim max"
        )
    low, high = max(int(bounds.lower), 0), int(bounds.upper)
    return low, high, high


def _dim_range(what: str, dim: Any, profile: Profile) -> DimRange:
    """(min, opt, max) of one dimension: a size, or an expression of symbols
    evaluated at the symbols' min, opt and max (sizes grow with their symbols)."""
    if isinstance(dim, int):
        return dim, dim, dim
    expr, shape_env = dim.node.expr, dim.node.shape_env
    at = {s: _symbol_range(what, s, shape_env, profile) for s in expr.free_symbols}
    low, opt, high = (int(expr.subs({s: r[k] for s, r in at.items()})) for k in range(3))
    if not 0 <= low <= opt <= high:
        raise ValueError(f"{what} ({expr}) gives the range {[low, opt, high]}, not min <= opt <= max")
    return low, opt, high


def _dim_ranges(what: str, dims: Sequence[Any], profiles: Sequence[Profile]) -> Tuple[ShapeRange, ...]:
    ranges = []
    for profile in profiles:
        per_dim = [_dim_range(f"{what} dimension {axis}", dim, profile) for axis, dim in enumerate(dims)]
        ranges.append(ShapeRange(*(tuple(r[k] for r in per_dim) for k in range(3))))
    return tuple(ranges)


def _contiguous(value: torch.Tensor) -> bool:
    # A data-dependent size (nonzero's u0) cannot be guarded on: ask without
    # guarding, False when it cannot be told.
    if any(isinstance(d, torch.SymInt) and free_unbacked_symbols(d.node.expr) for d in value.shape):
        return is_contiguous_or_false(value)
    return value.is_contiguous()


def _tensor_spec(name: str, what: str, value: object, profiles: Sequence[Profile] = ({},)) -> TensorSpec:
    if not isinstance(value, torch.Tensor):
        raise ValueError(
            f"{what} is a {type(value).__name__}, not a tensor; TensorRT delegates take and return tensors only"
        )
    dtype = _dtype_code(what, value)
    # The delegate hands ExecuTorch's buffers to TensorRT as they are, and
    # TensorRT expects the contiguous (row-major) layout.
    if not _contiguous(value):
        raise ValueError(
            f"{what} is not contiguous (e.g. channels_last); TensorRT I/O must be contiguous: "
            "call `.contiguous()` on example inputs and results"
        )
    return TensorSpec(name=name, dtype=dtype, ranges=_dim_ranges(what, list(value.shape), profiles))


def hint_shape(value: torch.Tensor) -> Tuple[int, ...]:
    """The example (traced) size of each dimension, static or symbolic."""
    return tuple(int(d.node.hint) if isinstance(d, torch.SymInt) else int(d) for d in value.shape)


def _has_symbols(value: object) -> bool:
    return isinstance(value, torch.Tensor) and any(isinstance(d, torch.SymInt) for d in value.shape)


def _val(node: torch.fx.Node, what: str) -> object:
    if "val" not in node.meta:
        raise ValueError(f"{what} ({node.name}) carries no example value (node.meta['val']); re-export the model")
    return node.meta["val"]


def delegate_profiles(input_values: Sequence[object], profiles: Sequence[Profile]) -> Tuple[Profile, ...]:
    """The profiles a delegate with these input values gets: the given ones
    when an input has a dynamic dimension, else one static profile."""
    dynamic = any(_has_symbols(value) for value in input_values)
    return tuple(profiles) if dynamic and profiles else ({},)


def derive_io(
    edge_program: ExportedProgram, profiles: Sequence[Profile] = (), owned_state: Sequence[str] = ()
) -> DelegateIO:
    """I/O specs (one shape range per optimization profile) and example values
    of the delegate's user inputs/outputs.

    A delegate without dynamic dimensions gets one static profile. Otherwise
    ``profiles`` (``{symbol: (min, opt, max)}`` each) give the ranges, and
    symbols a profile leaves out take torch.export's range and example size.
    The new values of the buffers in ``owned_state`` (FQNs the delegate owns,
    exporter/state.py) are the engine's business, not delegate outputs.
    """
    signature = edge_program.graph_signature
    profiles = delegate_profiles(
        [n.meta.get("val") for n in edge_program.graph.nodes if n.op == "placeholder"], profiles
    )
    placeholders = {n.name: n for n in edge_program.graph.nodes if n.op == "placeholder"}
    inputs: List[TensorSpec] = []
    values: List[torch.Tensor] = []
    for index, name in enumerate(signature.user_inputs):
        what = f"delegate input {index}"
        node = placeholders.get(name)
        if node is None:
            raise ValueError(f"{what} ({name}) is not a placeholder of the graph")
        value = _val(node, what)
        inputs.append(_tensor_spec(input_name(index), what, value, profiles))
        values.append(value)  # type: ignore[arg-type]

    output_node = next(n for n in edge_program.graph.nodes if n.op == "output")
    returned: Sequence[object] = output_node.args[0]  # type: ignore[assignment]
    if len(returned) != len(signature.output_specs):
        raise ValueError(
            f"the graph returns {len(returned)} values but its signature lists {len(signature.output_specs)}"
        )
    outputs: List[TensorSpec] = []
    for position, (arg, spec) in enumerate(zip(returned, signature.output_specs, strict=True)):
        if spec.kind == OutputKind.BUFFER_MUTATION and spec.target in owned_state:
            continue
        if spec.kind != OutputKind.USER_OUTPUT:
            raise ValueError(
                f"delegated graph output {position} is a {spec.kind.name} ({spec.target}); "
                "only user outputs and the buffers the delegate owns are supported"
            )
        what = f"delegate output {len(outputs)}"
        if not isinstance(arg, torch.fx.Node):
            raise ValueError(f"{what} is the constant {arg!r}, not a computed tensor")
        outputs.append(_tensor_spec(output_name(len(outputs)), what, _val(arg, what), profiles))
    if not outputs:
        raise ValueError("the delegated graph has no outputs")
    return DelegateIO(tuple(inputs), tuple(outputs), tuple(values))


def example_inputs(io: DelegateIO) -> Tuple[torch.Tensor, ...]:
    """Real tensors of the inputs' shapes and dtypes (the graph's are fake).

    Ones for floating point (no log(0)/division by zero when an exporter runs
    the graph), zeros otherwise (valid indices for gathers/embeddings).
    """
    tensors = []
    for fake in io.input_values:
        fill = torch.ones if fake.dtype.is_floating_point else torch.zeros
        tensors.append(fill(hint_shape(fake), dtype=fake.dtype))
    return tuple(tensors)


def with_state_io(
    io: DelegateIO, states: Sequence[Tuple[str, Optional[str], torch.Tensor]], num_profiles: int
) -> DelegateIO:
    """``io`` plus, per state (engine input name, engine output name, value),
    an engine input after the user inputs and an engine output after the user
    outputs (none for a read-only state: output name None), of the buffer's
    static shape in every profile."""
    inputs, outputs, values = list(io.inputs), list(io.outputs), list(io.input_values)
    for input_name_, output_name_, value in states:
        what = f"state buffer ({input_name_})"
        spec = _tensor_spec(input_name_, what, value)
        ranges = spec.ranges * num_profiles
        inputs.append(TensorSpec(input_name_, spec.dtype, ranges))
        if output_name_ is not None:
            outputs.append(TensorSpec(output_name_, spec.dtype, ranges))
        values.append(value)
    return DelegateIO(tuple(inputs), tuple(outputs), tuple(values))
