"""What ``torch.export`` or ExecuTorch cannot take, said in the user's terms.

Two limits real models run into, each caught where it starts rather than as a
traceback from deep inside ExecuTorch or a bare torch message:

- complex tensors (``torch.fft.rfft(x).abs()``): ExecuTorch's edge dialect
  refuses complex dtypes (a ``SpecViolationError`` about "mismatched dtypes"),
  and neither TensorRT nor ExecuTorch's kernels compute them. The export stops
  before lowering naming the operator, its source line and the remedy.
- a dynamic dimension that ``torch.export`` specialized ("specialized it to
  be a constant (N)"): sizes 0 and 1 always are (remedy: an example of size 2
  or more), others when the code depends on the size (nn.LSTM over a dynamic
  sequence; remedy: leave it static).
"""

from __future__ import annotations

import re
from typing import List, Optional

import torch
from torch.export import ExportedProgram

from .partitioner import source_line

__all__ = ["refuse_complex_tensors", "specialized_dim_hint"]

_COMPLEX = (torch.complex32, torch.complex64, torch.complex128)


def refuse_complex_tensors(exported: ExportedProgram, method: str = "forward") -> None:
    """Raises ValueError naming each operator of ``exported`` that makes or takes a complex tensor."""
    found: List[str] = []
    for node in exported.graph.nodes:
        if node.op not in ("call_function", "placeholder"):
            continue
        value = node.meta.get("val")
        values = value if isinstance(value, (tuple, list)) else (value,)
        if any(isinstance(v, torch.Tensor) and v.dtype in _COMPLEX for v in values):
            what = "input" if node.op == "placeholder" else str(node.target)
            where = source_line(node)
            found.append(f"{what} ({node.name})" + (f" at {where}" if where else ""))
    if found:
        raise ValueError(
            f"{method}: complex tensors cannot be exported: ExecuTorch's edge dialect and TensorRT have no complex "
            f"dtypes. Made by: {'; '.join(found[:5])}{' ...' if len(found) > 5 else ''}. Compute with real tensors "
            "instead (e.g. an FFT written as a matmul with cos and sin DFT matrices), or run that "
            "part outside the exported model"
        )


def specialized_dim_hint(error: Exception) -> Optional[str]:
    """The remedy for torch.export's "specialized it to be a constant (N)" error, else None."""
    found = re.search(r"specialized it to be a constant \((\d+)\)", str(error))
    if found is None:
        return None
    if int(found.group(1)) <= 1:
        return (
            "torch.export specializes dimensions of size 0 and 1, so a dimension marked dynamic (torch.export.Dim) "
            "needs an example input of size 2 or more there (its min may still be 1): e.g. an example batch of 2"
        )
    return (
        "the model fixes the size of a dimension marked dynamic (torch.export.Dim): its code branches or loops on "
        "that size, or uses an operator torch.export unrolls over it (nn.LSTM / nn.GRU over the sequence); leave "
        "that dimension static (no Dim for it) or export one program per size"
    )
