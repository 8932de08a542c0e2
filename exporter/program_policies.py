"""Per-delegate compile specs decided from the whole program, before lowering.

Two choices depend on the program as a whole: the init policy (``deferred``
when the program holds more than one TensorRT engine, counting every engine of
a ``batch_engines="per_range"`` delegate, else ``eager``) and, with
``weight_streaming_budget_total``, each engine's share of the program's budget
(in proportion to its weight bytes). Both are known once the program is
partitioned: the number of partitions and of engines each builds (one per
optimization profile with ``per_range``), and the bytes of the constants each
partition holds, which its engine embeds. So the partitioner decides them and
hands every partition its own complete compile specs; ExecuTorch lowers each
with those, and nothing is changed after lowering.

A per-range delegate's engines each hold their own copy of the weights and
each apply the delegate's budget, so such a delegate weighs (and is given) as
much as its engines together, and the value set is one engine's share.
"""

from __future__ import annotations

import re
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from executorch.exir.backend.compile_spec_schema import CompileSpec

from .compile_specs import KEY_INIT_POLICY, KEY_WEIGHT_STREAMING_BUDGET, KNOWN_KEYS, TensorRTCompileSpec


def default_init_policy(num_engines: int) -> str:
    """``deferred`` for programs with several engines: loading holds no GPU
    memory until a method runs. A single engine is initialized at load
    (``eager``), so a broken engine fails there."""
    return "deferred" if num_engines > 1 else "eager"


def split_budget(total: int, weights: Sequence[int]) -> List[int]:
    """``total`` bytes split in proportion to ``weights``, summing exactly to ``total``.

    Largest-remainder rounding; equal shares when no engine reports weights.
    """
    if not weights:
        return []
    if sum(weights) <= 0:
        weights = [1] * len(weights)
    whole = sum(weights)
    shares = [total * w // whole for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in order[: total - sum(shares)]:
        shares[i] += 1
    return shares


def delegate_overrides(
    spec: TensorRTCompileSpec,
    weights: Sequence[int],
    budget_total: Optional[int],
    engines: Optional[Sequence[int]] = None,
) -> List[Dict[str, str]]:
    """Keys to set on each of the program's TensorRT delegates (pure).
    ``weights`` are one engine's weight bytes per delegate, ``engines`` the
    number of engines of each delegate (1 each when omitted)."""
    counts = list(engines) if engines is not None else [1] * len(weights)
    policy = spec.init_policy or default_init_policy(sum(counts))
    overrides: List[Dict[str, str]] = [{KEY_INIT_POLICY: policy} for _ in weights]
    if budget_total is not None:
        held = [w * n for w, n in zip(weights, counts, strict=True)]
        shares = split_budget(budget_total, held)
        for values, share, n in zip(overrides, shares, counts, strict=True):
            values[KEY_WEIGHT_STREAMING_BUDGET] = str(share // n)
    return overrides


def with_overrides(spec: TensorRTCompileSpec, overrides: Mapping[str, str]) -> List[CompileSpec]:
    """``spec``'s compile specs with ``overrides`` set, in the table's key order."""
    merged = {s.key: s.value for s in spec.to_compile_specs()}
    merged.update({k: v.encode("ascii") for k, v in overrides.items()})
    order = {key: i for i, key in enumerate(KNOWN_KEYS)}
    return [CompileSpec(k, merged[k]) for k in sorted(merged, key=lambda k: order.get(k, len(order)))]


_TAG_RE = re.compile(r"^tensorrt_([0-9]+)_of_([0-9]+)$")


def partition_tag(index: int, count: int) -> str:
    """The delegation tag of partition ``index`` of ``count``; the partition's
    nodes carry it into ``preprocess``, which names its build after it."""
    return f"tensorrt_{index + 1}_of_{count}"


def partition_position(tag: object) -> Optional[Tuple[int, int]]:
    """``(k, n)`` of a ``partition_tag``: the k-th of the program's n partitions."""
    match = _TAG_RE.match(tag) if isinstance(tag, str) else None
    return (int(match.group(1)), int(match.group(2))) if match else None
