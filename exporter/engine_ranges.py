"""Which engines a delegate gets: one for every profile (``max_batch``) or one
per optimization profile (``per_range``), and how they are ordered in the blob.

Pure functions over the delegate's tensor specs, so a table of cases tests them.
"""

from __future__ import annotations

import dataclasses
from typing import List, Sequence, Tuple

import torch

from . import blob
from .blob import ShapeRange, TensorSpec

# One engine's optimization profiles, as indices into the delegate's.
ProfileGroup = Tuple[int, ...]


def profile_groups(num_profiles: int, batch_engines: str) -> List[ProfileGroup]:
    """The profiles each engine holds: all in one engine, or one engine per profile."""
    if num_profiles < 1:
        raise ValueError(f"a delegate has at least one optimization profile, got {num_profiles}")
    if batch_engines == "max_batch":
        return [tuple(range(num_profiles))]
    if batch_engines == "per_range":
        if num_profiles > blob.MAX_ENGINES:
            raise ValueError(
                f"batch_engines='per_range' builds one engine per optimization profile, at most {blob.MAX_ENGINES} "
                f"per delegate; got {num_profiles} profiles: merge ranges or use batch_engines='max_batch'"
            )
        return [(index,) for index in range(num_profiles)]
    raise ValueError(f"batch_engines must be one of max_batch, per_range; got {batch_engines!r}")


def select_profiles(specs: Sequence[TensorSpec], group: ProfileGroup) -> Tuple[TensorSpec, ...]:
    """``specs`` keeping only the shape ranges of the profiles in ``group``."""
    return tuple(dataclasses.replace(s, ranges=tuple(s.ranges[i] for i in group)) for s in specs)


def _holds(shape_range: ShapeRange, shape: Sequence[int]) -> bool:
    return len(shape) == len(shape_range.min) and all(
        low <= dim <= high for low, dim, high in zip(shape_range.min, shape, shape_range.max)
    )


def engine_examples(examples: Sequence[torch.Tensor], inputs: Sequence[TensorSpec]) -> Tuple[torch.Tensor, ...]:
    """Example inputs for an engine: the delegate's examples when one of the
    engine's profiles holds them all, else tensors of the first profile's
    ``opt`` shapes (a builder may trace at the example's size)."""
    if not inputs:
        return tuple(examples)
    for profile in range(len(inputs[0].ranges)):
        if all(_holds(s.ranges[profile], tuple(t.shape)) for s, t in zip(inputs, examples, strict=True)):
            return tuple(examples)
    resized = []
    for spec, example in zip(inputs, examples, strict=True):
        fill = torch.ones if example.dtype.is_floating_point else torch.zeros
        resized.append(fill(spec.ranges[0].opt, dtype=example.dtype))
    return tuple(resized)


def ranges_text(inputs: Sequence[TensorSpec]) -> str:
    """The engine's input ranges, e.g. ``input_0 [1, 4]..[8, 4]``; profiles joined by `` | ``."""
    if not inputs:
        return "no inputs"
    parts = []
    for spec in inputs:
        shapes = []
        for r in spec.ranges:
            low, high = list(r.min), list(r.max)
            shapes.append(str(low) if low == high else f"{low}..{high}")
        parts.append(f"{spec.name} {' | '.join(shapes)}")
    return ", ".join(parts)


def ascending(entries: Sequence[blob.EngineEntry]) -> List[blob.EngineEntry]:
    """Entries in ascending order of their largest input shapes (stable on ties)."""
    return sorted(entries, key=lambda e: blob.max_input_volume(e.blob.metadata))
