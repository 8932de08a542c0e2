"""Reads and rewrites the delegate parts of a .pte with ExecuTorch's own
program serializer, so the malformed-program generator and the fuzz seed
script change exactly the piece they mean to (a blob, a compile spec) and
leave a program ExecuTorch still loads."""

from __future__ import annotations

from typing import Callable, List

from executorch.exir._serialize._program import PTEFile, deserialize_pte_binary, serialize_pte_binary
from executorch.exir.schema import DataLocation

BACKEND_ID = "ExecutorchTensorRTBackend"


def delegate_blobs(pte: bytes) -> List[bytes]:
    """The processed bytes of every delegate of this backend, in plan order."""
    program = deserialize_pte_binary(pte).program
    blobs = []
    for plan in program.execution_plan:
        for delegate in plan.delegates:
            if delegate.id == BACKEND_ID and delegate.processed.location == DataLocation.INLINE:
                blobs.append(bytes(program.backend_delegate_data[delegate.processed.index].data))
    return blobs


def rewrite_program(pte: bytes, change: Callable[[object], None]) -> bytes:
    """Deserializes ``pte``, lets ``change`` edit the Program in place, and
    serializes it again (delegate data inline, as the exporter writes it)."""
    pte_file = deserialize_pte_binary(pte)
    change(pte_file.program)
    return bytes(serialize_pte_binary(PTEFile(program=pte_file.program)))
