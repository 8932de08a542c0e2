"""Several methods in one program: ``save(model, path, methods={"prefill": ..., "decode": ...})``.

Each method is the model's ``forward`` exported with its own example inputs
(and, optionally, its own ``dynamic_shapes``); all are lowered together with
ExecuTorch's multi-method ``to_edge_transform_and_lower``. Their engines go to
the program's named data (``named_engines``), so an engine two methods both
need is stored once, built once (identical build requests share) and, at
load, deserialized once (docs/exporter.md, "Methods that share engines").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Mapping, Tuple

import torch
from torch.export import ExportedProgram

from .compile_specs import DimRange
from .export_options import dim_names

# The method name ExecuTorch programs of one method have.
DEFAULT_METHOD = "forward"


@dataclass(frozen=True)
class Method:
    """One method of a multi-method export: ``forward``'s example inputs for it
    and, when its dynamic dimensions differ from the ``dynamic_shapes`` given
    to ``save``, its own ``dynamic_shapes``. A plain tuple of tensors in
    ``methods=`` stands for ``Method(inputs)``."""

    inputs: Tuple[torch.Tensor, ...]
    dynamic_shapes: Any = None


def check_methods(methods: object, dynamic_shapes: Any) -> Dict[str, Method]:
    """``methods=`` as ``{name: Method}``, each with its dynamic shapes decided."""
    if not isinstance(methods, Mapping) or not methods:
        raise TypeError(
            "methods must be a non-empty dict {method name: example inputs or Method(inputs, dynamic_shapes)}, "
            f"got {type(methods).__name__}; e.g. methods={{'prefill': (tokens,), 'decode': (token,)}}"
        )
    checked: Dict[str, Method] = {}
    for name, value in methods.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"method name {name!r} must be a Python identifier (ExecuTorch calls methods by name)")
        method = value if isinstance(value, Method) else Method(value)
        if not isinstance(method.inputs, (tuple, list)):
            raise TypeError(
                f"methods[{name!r}] must be a tuple of example tensors or a Method, got {type(method.inputs).__name__}"
            )
        shapes = method.dynamic_shapes if method.dynamic_shapes is not None else dynamic_shapes
        checked[name] = Method(tuple(method.inputs), shapes)
    return checked


def shared_profiles(
    profiles: Mapping[str, Tuple[Dict[str, DimRange], ...]], exported: Mapping[str, ExportedProgram]
) -> Dict[str, Tuple[Dict[str, DimRange], ...]]:
    """Each method's profiles with the ``opt`` of a ``torch.export.Dim`` taken
    from the first method (in ``methods`` order) that has it, so partitions
    that are the same graph in two methods ask for the same engine (their
    example sizes differ; ``min`` and ``max`` come from the one Dim)."""
    first_opt: Dict[str, int] = {}
    result: Dict[str, Tuple[Dict[str, DimRange], ...]] = {}
    for name, method_profiles in profiles.items():
        named: Dict[str, str] = {}
        for dim, symbols in dim_names(exported[name]).items():
            for symbol in symbols:
                if dim != symbol or symbol not in named:  # the Dim's own name over the bare symbol
                    named[symbol] = dim
        updated = []
        for profile in method_profiles:
            ranges: Dict[str, DimRange] = {}
            for symbol, (low, opt, high) in profile.items():
                dim = named.get(symbol, symbol)
                opt = first_opt.setdefault(dim, opt)
                ranges[symbol] = (low, min(max(opt, low), high), high)
            updated.append(ranges)
        result[name] = tuple(updated)
    return result


