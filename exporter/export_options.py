"""The keyword arguments of ``save``/``export``, checked before the slow export starts."""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Mapping, Optional, Tuple

import torch
from torch.export import ExportedProgram
from torch.utils._pytree import tree_leaves

from .. import option_table as table
from .compile_specs import DimRange, TensorRTCompileSpec, check_bytes, check_option, check_profiles
from .op_selection import OpLike, normalize_ops

# Keywords handled here; the rest are TensorRTCompileSpec fields. Profiles are
# given by Dim name and resolved once the program is exported.
EXPORT_KEYWORDS = tuple(
    k
    for k in table.keys(table.EXPORT)
    if k not in TensorRTCompileSpec.field_names() or k == table.KEY_OPTIMIZATION_PROFILES
)
PRECISION_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class ExportOptions:
    spec: TensorRTCompileSpec
    dynamic_shapes: Any = None
    torch_executed_ops: Tuple[OpLike, ...] = ()
    min_block_size: int = 1
    # As the user wrote them: keys are Dim names or symbols (resolved after torch.export).
    optimization_profiles: Tuple[Mapping[str, DimRange], ...] = ()
    weight_streaming_budget_total: Optional[int] = None


def parse_options(kwargs: Dict[str, Any], function: str) -> ExportOptions:
    """``save``/``export`` keywords -> ``ExportOptions``; ``function`` names the caller in messages."""
    if "compile_specs" in kwargs:
        raise TypeError(
            f"{function}() takes no raw compile_specs: give each option as a keyword argument "
            "(e.g. weight_streaming_budget=N, which is validated; the raw key would bypass the checks)"
        )
    accepted = [k for k in TensorRTCompileSpec.field_names() if k not in EXPORT_KEYWORDS]
    unknown = sorted(set(kwargs) - set(accepted) - set(EXPORT_KEYWORDS))
    if unknown:
        raise TypeError(
            f"{function}() got unexpected keyword argument(s): {', '.join(unknown)}; "
            f"accepted: inputs, {', '.join([*accepted, *EXPORT_KEYWORDS])}"
            + (", output_format" if function == "save" else "")
        )
    extra = {k: v for k, v in kwargs.items() if k in EXPORT_KEYWORDS}
    spec_kwargs = {k: v for k, v in kwargs.items() if k not in EXPORT_KEYWORDS}
    streaming = spec_kwargs.get(table.KEY_ENABLE_WEIGHT_STREAMING, False)
    budget = spec_kwargs.get(table.KEY_WEIGHT_STREAMING_BUDGET)
    total = extra.get(table.KEY_WEIGHT_STREAMING_BUDGET_TOTAL)
    if budget is not None:
        check_bytes(table.KEY_WEIGHT_STREAMING_BUDGET, budget)
    if total is not None:
        check_bytes(table.KEY_WEIGHT_STREAMING_BUDGET_TOTAL, total)
        if budget is not None:
            raise ValueError(
                "give weight_streaming_budget (bytes per engine) or weight_streaming_budget_total "
                "(bytes for the whole program, split by engine weight size), not both"
            )
    if (budget is not None or total is not None) and streaming is not True:
        warnings.warn(
            "a weight-streaming budget was given without enable_weight_streaming=True; it will be ignored "
            "(engines built without weight streaming keep all weights on the GPU)",
            UserWarning,
            stacklevel=3,
        )
        spec_kwargs.pop(table.KEY_WEIGHT_STREAMING_BUDGET, None)
        total = None
    spec = TensorRTCompileSpec(**spec_kwargs)
    min_block_size = check_option(table.BY_KEY[table.KEY_MIN_BLOCK_SIZE], extra.get(table.KEY_MIN_BLOCK_SIZE, 1))
    executed = extra.get(table.KEY_TORCH_EXECUTED_OPS, ())
    normalize_ops(executed)  # refuses bad names now rather than after export
    profiles = extra.get(table.KEY_OPTIMIZATION_PROFILES) or ()
    check_profiles(profiles)  # the ranges now; the names once the program is exported
    shapes = extra.get(table.KEY_DYNAMIC_SHAPES)
    return ExportOptions(spec, shapes, tuple(executed), min_block_size, tuple(profiles), total)


def convert_precision(model: Any, inputs: Tuple[torch.Tensor, ...], precision: Optional[str]) -> Tuple[Any, tuple]:
    """The model and floating inputs in ``precision`` (networks are strongly
    typed: TensorRT computes in the dtypes the graph has)."""
    if precision is None:
        return model, inputs
    if isinstance(model, ExportedProgram):
        raise ValueError(
            f"precision={precision!r} converts an nn.Module before export; an ExportedProgram already fixes its "
            "dtypes: convert the model yourself before torch.export, or pass the nn.Module"
        )
    dtype = PRECISION_DTYPES[precision]
    converted = copy.deepcopy(model).to(dtype)
    return converted, tuple(t.to(dtype) if t.is_floating_point() else t for t in inputs)


def resolve_profiles(
    profiles: Iterable[Mapping[str, DimRange]], exported: ExportedProgram
) -> Tuple[Dict[str, DimRange], ...]:
    """User profile keys (``torch.export.Dim`` names or symbols like ``s0``) -> symbols."""
    profiles = tuple(profiles)
    if not profiles:
        return ()
    names = dim_names(exported)
    resolved = []
    for index, profile in enumerate(profiles):
        ranges: Dict[str, DimRange] = {}
        for key, bounds in profile.items():
            key = getattr(key, "__name__", key)  # a torch.export.Dim object stands for its name
            symbols = names.get(key)
            if not symbols:
                known = ", ".join(sorted(names)) or "none: the program has no dynamic dimensions"
                raise ValueError(
                    f"optimization_profiles[{index}] names {key!r}, which is no dynamic dimension of the program; "
                    f"known: {known}"
                )
            for symbol in symbols:
                ranges[symbol] = tuple(bounds)  # type: ignore[assignment]
        resolved.append(ranges)
    return tuple(resolved)


def dim_names(exported: ExportedProgram) -> Dict[str, Tuple[str, ...]]:
    """``{Dim name or symbol: symbols}`` for the program's symbolic input dimensions."""
    names: Dict[str, set] = {}
    for node in exported.graph.nodes:
        value = node.meta.get("val")
        if node.op != "placeholder" or not isinstance(value, torch.Tensor):
            continue
        for dim in value.shape:
            if not isinstance(dim, torch.SymInt):
                continue
            shape_env = dim.node.shape_env
            for symbol in dim.node.expr.free_symbols:
                names.setdefault(str(symbol), set()).add(str(symbol))
                for source in shape_env.var_to_sources.get(symbol, ()):
                    debug = shape_env.source_name_to_debug_name.get(source.name)
                    if debug:
                        names.setdefault(debug, set()).add(str(symbol))
    return {k: tuple(sorted(v)) for k, v in names.items()}


def profiles_from_dims(dynamic_shapes: Any, exported: ExportedProgram) -> Tuple[Dict[str, DimRange], ...]:
    """One profile from the user's ``torch.export.Dim`` bounds.

    torch.export records a dynamic size's range from 2 up (it specializes 0
    and 1 while tracing), although the graph serves the ``min`` the user
    wrote; the engine's profile takes the user's bounds, opt = the example's
    size. Dims without a finite ``max`` are left to the program's range (which
    then fails, naming the input, when TensorRT needs a bound).
    """
    dims = [d for d in tree_leaves(dynamic_shapes) if isinstance(d, torch.export.Dim)]
    names = dim_names(exported)
    hints = symbol_hints(exported)
    profile: Dict[str, DimRange] = {}
    for dim in dims:
        if not isinstance(dim.max, int) or isinstance(dim.max, bool) or dim.max >= 2**62:
            continue
        for symbol in names.get(dim.__name__, ()):
            low = max(int(dim.min), 1)
            hint = hints.get(symbol)
            if hint is not None and low <= hint <= dim.max:
                profile[symbol] = (low, hint, int(dim.max))
    return (profile,) if profile else ()


def symbol_hints(exported: ExportedProgram) -> Dict[str, int]:
    """``{symbol: example size}`` for the program's symbolic input dimensions."""
    hints: Dict[str, int] = {}
    for node in exported.graph.nodes:
        value = node.meta.get("val")
        if node.op == "placeholder" and isinstance(value, torch.Tensor):
            for dim in value.shape:
                if isinstance(dim, torch.SymInt) and dim.node.expr.is_Symbol:
                    hints[str(dim.node.expr)] = int(dim.node.hint)
    return hints
