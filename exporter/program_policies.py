"""Per-delegate compile specs decided once the whole program is known.

The partitioner gives every delegate the same specs. Two choices depend on
the program as a whole, so they are baked after lowering: the init policy
(``deferred`` when the program holds more than one TensorRT engine, counting
every engine of a ``batch_engines="per_range"`` delegate, else ``eager``) and,
with ``weight_streaming_budget_total``, each engine's share of the program's
budget (in proportion to its weight bytes). A per-range delegate's engines
each hold their own copy of the weights and each apply the delegate's budget,
so such a delegate weighs (and is given) as much as its engines together, and
the value baked is one engine's share.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

from executorch.exir import EdgeProgramManager
from executorch.exir.backend.compile_spec_schema import CompileSpec
from executorch.exir.lowered_backend_module import LoweredBackendModule

from .backend_details import ExecutorchTensorRTBackend
from .blob import engine_count
from .build_records import EngineBuildRecord, digest
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


def tensorrt_delegates(manager: EdgeProgramManager) -> List[LoweredBackendModule]:
    """The program's TensorRT lowered modules, in the order the graphs call them."""
    found: List[LoweredBackendModule] = []
    for method in manager.methods:
        module = manager.exported_program(method).graph_module
        for node in module.graph.nodes:
            if node.op != "get_attr":
                continue
            lowered = getattr(module, str(node.target), None)
            if isinstance(lowered, LoweredBackendModule) and lowered.backend_id == ExecutorchTensorRTBackend.__name__:
                found.append(lowered)
    return found


def bake(
    manager: EdgeProgramManager,
    spec: TensorRTCompileSpec,
    records: Sequence[EngineBuildRecord],
    budget_total: Optional[int],
) -> List[EngineBuildRecord]:
    """Set the program-level keys on every delegate; returns their build records in order."""
    by_digest = {r.digest: r for r in records}
    delegates = tensorrt_delegates(manager)
    missing = [i for i, d in enumerate(delegates) if digest(bytes(d.processed_bytes)) not in by_digest]
    if missing:
        raise RuntimeError(
            f"TensorRT delegate(s) {missing} of the program were not built by this export "
            "(lower the model with save()/export() only, not with other TensorRT partitioners)"
        )
    ordered = [by_digest[digest(bytes(d.processed_bytes))] for d in delegates]
    counts = [engine_count(bytes(d.processed_bytes)) for d in delegates]
    overrides = delegate_overrides(spec, [r.weight_bytes for r in ordered], budget_total, counts)
    for lowered, values in zip(delegates, overrides, strict=True):
        merged = {s.key: s.value for s in lowered.compile_specs}
        merged.update({k: v.encode("ascii") for k, v in values.items()})
        order = {key: i for i, key in enumerate(KNOWN_KEYS)}
        # LoweredBackendModule exposes its specs read-only; they are emitted from this list.
        lowered._compile_specs = [
            CompileSpec(k, merged[k]) for k in sorted(merged, key=lambda k: order.get(k, len(order)))
        ]
    return ordered
