"""Test helpers for programs exported with external weights: the named-data
keys a delegate lists, and a program's .ptd rewritten tensor by tensor (with
ExecuTorch's own .ptd serializer), to make a .ptd that no longer matches."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, Union

import torch

from executorch_tensorrt import _native
from executorch_tensorrt.exporter import blob
from executorch_tensorrt.exporter.pte_file import read_pte

_DTYPES = {6: torch.float32, 5: torch.float16, 15: torch.bfloat16, 1: torch.int8}


def delegate_blob(pte: Path, method: int = 0) -> bytes:
    """The processed bytes of the (one) TensorRT delegate of ``pte``'s method."""
    data = pte.read_bytes()
    parsed = read_pte(data)
    (index,) = [i for i, d in enumerate(parsed.plans[method].delegates) if d.id == _native.BACKEND_ID]
    return bytes(parsed.delegate_payload(data, method, index))


def weight_keys(pte: Path) -> Dict[str, str]:
    """``{engine weight name: named-data key}`` of ``pte``'s delegate."""
    return {w.name: w.key for w in blob.external_weights_of(blob.decode_delegate(delegate_blob(pte))[1])}


def rewrite_ptd(
    source: Path, target: Path, change: Callable[[str, torch.Tensor], Union[torch.Tensor, bytes, None]]
) -> Path:
    """``source`` with each tensor replaced by ``change(key, tensor)``: a
    tensor, raw bytes (stored without a tensor layout) or None (the key is
    dropped); written to ``target``."""
    from executorch.exir._serialize._cord import Cord
    from executorch.exir._serialize._named_data_store import NamedDataStore
    from executorch.exir._serialize.data_serializer import DataPayload
    from executorch.extension.flat_tensor.serialize.serialize import FlatTensorSerializer

    serializer = FlatTensorSerializer()
    payload = serializer.deserialize(Cord(source.read_bytes()))
    store = NamedDataStore()
    for key, entry in payload.named_data.items():
        layout = entry.tensor_layout
        raw = bytearray(bytes(payload.buffers[entry.buffer_index]))
        tensor = torch.frombuffer(raw, dtype=_DTYPES[int(layout.scalar_type)]).reshape(layout.sizes)
        replaced = change(key, tensor.clone())
        if isinstance(replaced, torch.Tensor):
            replaced = replaced.contiguous()
        if replaced is not None:
            store.add_named_data(key, replaced, alignment=entry.alignment)
    output = store.get_named_data_store_output()
    target.write_bytes(bytes(serializer.serialize(DataPayload(buffers=output.buffers, named_data=output.pte_data))))
    return target
