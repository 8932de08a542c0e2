"""The engines' weights kept beside the program (``external_weights=True``).

A weight-stripped engine's weights go to ExecuTorch's named data under the
external tag of ExecuTorch's own external constants, so they land in the one
``.ptd`` beside the ``.pte``; the delegate's blob lists them (section
``external_weights``, docs/blob_format.md) and ``init()`` refits the engine
from the ``NamedDataMap`` ExecuTorch hands it.

Keys are ``etrt/<digest>/<engine name>``: the engine's own name for the
weight (so a person reading the ``.ptd`` recognizes ``fc1.weight``), under a
digest of every (name, dtype, shape, bytes) of the delegate's weights. The
digest makes keys unique in the program (two delegates whose generated ONNX
names collide, like ``val_3``, differ in their digest) and stable (the same
model exports the same keys); delegates holding the very same weights (one
model's prefill and decode methods) get the same keys, and ExecuTorch's
store, which accepts a key again only with identical bytes, keeps them once.
"""

from __future__ import annotations

import hashlib
from typing import List, Optional, Sequence, Tuple

import torch
from executorch.exir._serialize._named_data_store import NamedDataStore, NamedDataStoreOutput

from ..dtypes import SCALAR_TYPES
from . import blob

# ExecuTorch's tag for external constants (exir/passes/external_constants_pass.py):
# the engines' weights join the CPU constants in one .ptd.
EXTERNAL_TAG = "_default_external_constant"
KEY_PREFIX = "etrt"
# Weights start on this boundary in the .ptd (mmap-friendly host reads).
WEIGHT_ALIGNMENT = 64

_CODES = {getattr(torch, t.name): t.code for t in SCALAR_TYPES}

Weights = Sequence[Tuple[str, torch.Tensor]]


def weights_digest(weights: Weights) -> str:
    """A digest of every weight's name, dtype, shape and bytes."""
    digest = hashlib.sha256()
    for name, tensor in weights:
        digest.update(f"{name}\0{tensor.dtype}\0{list(tensor.shape)}\0".encode("utf-8"))
        digest.update(_raw(tensor))
    return digest.hexdigest()[:16]


def _raw(tensor: torch.Tensor) -> bytes:
    flat = tensor.detach().contiguous().reshape(-1)
    return flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b""


def _record(name: str, key: str, tensor: torch.Tensor) -> blob.ExternalWeight:
    code = _CODES.get(tensor.dtype)
    if code is None:
        raise ValueError(f"external weight {name!r} has dtype {tensor.dtype}, which the delegate cannot refit")
    return blob.ExternalWeight(name, key, code, tuple(int(d) for d in tensor.shape))


def external_weights_section(
    weights: Weights,
) -> Tuple[List[blob.BlobSection], Optional[NamedDataStoreOutput], Tuple[blob.ExternalWeight, ...]]:
    """The blob section listing ``weights``, the named data holding them (for
    ``PreprocessResult.data_store_output``) and the records; nothing for none."""
    if not weights:
        return [], None, ()
    prefix = f"{KEY_PREFIX}/{weights_digest(weights)}"
    store = NamedDataStore()
    records = []
    for name, tensor in weights:
        record = _record(name, f"{prefix}/{name}", tensor)
        store.add_named_data(
            record.key, tensor.detach().contiguous(), alignment=WEIGHT_ALIGNMENT, external_tag=EXTERNAL_TAG
        )
        records.append(record)
    payload = blob.encode_external_weights(records)
    section = blob.BlobSection(blob.SectionKind.EXTERNAL_WEIGHTS, payload)
    return [section], store.get_named_data_store_output(), tuple(records)
