"""Control flow (``torch.cond``, ``while_loop``, ``map``) stays on ExecuTorch's CPU.

A higher-order operator's branches are graph modules the call refers to by
``get_attr``; a TensorRT partition holding the call but not those would be an
invalid program (torch's verifier: "Node.meta submodule_0 is missing val
field"). ExecuTorch runs control flow itself (its emitter writes the jumps),
and the branches' operators run on its CPU kernels.
"""

from __future__ import annotations

from typing import Dict, Iterable

import torch

__all__ = ["REASON_CONTROL_FLOW", "control_flow_refusals"]

REASON_CONTROL_FLOW = "control flow (a higher-order operator such as torch.cond) runs on ExecuTorch's CPU"


def control_flow_refusals(candidates: Iterable[torch.fx.Node]) -> Dict[torch.fx.Node, str]:
    """``{node: reason}`` for each candidate that calls a higher-order operator."""
    return {n: REASON_CONTROL_FLOW for n in candidates if isinstance(n.target, torch._ops.HigherOrderOperator)}
