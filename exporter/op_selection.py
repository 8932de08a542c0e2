"""``torch_executed_ops``: which operators a user keeps on ExecuTorch's CPU kernels."""

from __future__ import annotations

from typing import FrozenSet, Iterable, Tuple, Union

import torch

OpLike = Union[str, "torch._ops.OpOverload", "torch._ops.OpOverloadPacket"]


def _split(name: str) -> Tuple[str, str]:
    """``aten::add.Tensor`` / ``aten.add.Tensor`` / ``torch.ops.aten.add`` -> (``aten::add``, overload or '')."""
    text = name.strip()
    if text.startswith("torch.ops."):
        text = text[len("torch.ops.") :]
    if "::" in text:
        namespace, _, rest = text.partition("::")
        op, _, overload = rest.partition(".")
    else:
        parts = text.split(".")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(
                f"operator {name!r} is not an operator name; write it like 'aten.sigmoid', "
                "'aten.add.Tensor' or 'aten::add.Tensor', or pass torch.ops.aten.sigmoid"
            )
        namespace, op = parts[0], parts[1]
        overload = parts[2] if len(parts) == 3 else ""
    if not namespace or not op:
        raise ValueError(f"operator {name!r} is not an operator name (expected 'namespace::op[.overload]')")
    return f"{namespace}::{op}", overload


def normalize_ops(ops: Iterable[OpLike]) -> FrozenSet[Tuple[str, str]]:
    """``(qualified op, overload)`` pairs; an empty overload matches every overload."""
    if isinstance(ops, (str, bytes)) or not isinstance(ops, Iterable):
        raise TypeError(f"torch_executed_ops must be a list of operators, got {type(ops).__name__}")
    result = set()
    for op in ops:
        if isinstance(op, torch._ops.OpOverload):
            result.add(_split(f"{op._schema.name}.{op._overloadname}"))
        elif isinstance(op, torch._ops.OpOverloadPacket):
            result.add((op._qualified_op_name, ""))
        elif isinstance(op, str):
            result.add(_split(op))
        else:
            raise TypeError(f"torch_executed_ops entries must be operator names or torch.ops objects, got {op!r}")
    return frozenset(result)


def node_op(node: torch.fx.Node) -> Tuple[str, str]:
    """(``aten::add``, ``Tensor``) of an aten or edge-dialect call, ('', '') otherwise."""
    target = node.target
    if not isinstance(target, torch._ops.OpOverload):
        target = getattr(target, "_op", target)  # EdgeOpOverload wraps the aten OpOverload
    if isinstance(target, torch._ops.OpOverload):
        return target._schema.name, target._overloadname
    return "", ""


def op_label(node: torch.fx.Node) -> str:
    name, overload = node_op(node)
    if not name:
        return getattr(node.target, "__name__", str(node.target))
    return f"{name}.{overload}" if overload else name


def is_selected(node: torch.fx.Node, selection: FrozenSet[Tuple[str, str]]) -> bool:
    name, overload = node_op(node)
    return bool(name) and ((name, "") in selection or (name, overload) in selection)
