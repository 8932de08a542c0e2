"""The dtypes this package moves between torch, ExecuTorch, TensorRT and ONNX, once.

Codes are ExecuTorch's ScalarType (runtime/core/portable_type/scalar_type.h),
the dtype numbers the delegate blob records; the C++ twin of this table is
backend/common/dtypes.h. Torch-free, so the blob reader and the loader can
use it without importing torch: a row's ``name`` is its torch dtype's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple


@dataclass(frozen=True)
class ScalarType:
    code: int  # ExecuTorch ScalarType
    name: str  # torch.<name>
    tensorrt: Optional[str]  # nvinfer1::DataType name; None: not a TensorRT I/O dtype
    onnx: Optional[int]  # ONNX TensorProto element type of a TensorRT I/O dtype
    itemsize: int  # bytes per element


SCALAR_TYPES: Tuple[ScalarType, ...] = (
    ScalarType(6, "float32", "FLOAT", 1, 4),
    ScalarType(5, "float16", "HALF", 10, 2),
    ScalarType(15, "bfloat16", "BF16", 16, 2),
    ScalarType(3, "int32", "INT32", 6, 4),
    ScalarType(4, "int64", "INT64", 7, 8),
    ScalarType(11, "bool", "BOOL", 9, 1),
    ScalarType(0, "uint8", "UINT8", 2, 1),
    ScalarType(1, "int8", "INT8", 3, 1),
    ScalarType(2, "int16", None, None, 2),
    ScalarType(7, "float64", None, None, 8),
)

SCALAR_TYPE_NAMES: Dict[int, str] = {t.code: t.name for t in SCALAR_TYPES}
ITEMSIZES: Dict[int, int] = {t.code: t.itemsize for t in SCALAR_TYPES}
# The dtypes a TensorRT engine takes as inputs and outputs.
TENSORRT_IO: Tuple[ScalarType, ...] = tuple(t for t in SCALAR_TYPES if t.tensorrt is not None)
TENSORRT_CODES: Dict[str, int] = {t.tensorrt: t.code for t in TENSORRT_IO if t.tensorrt is not None}


def dtype_name(code: int) -> str:
    """``float32`` for an ExecuTorch ScalarType code; ``scalar_type_<code>`` for one not in the table."""
    return SCALAR_TYPE_NAMES.get(code, f"scalar_type_{code}")


class DtypeAndShape:
    """For records holding an ExecuTorch ``dtype`` code and a ``shape``
    (an external weight, an owned buffer): their byte size and dtype name."""

    dtype: int
    shape: Tuple[int, ...]

    @property
    def nbytes(self) -> int:
        total = ITEMSIZES[self.dtype]
        for dim in self.shape:
            total *= dim
        return total

    @property
    def dtype_name(self) -> str:
        return dtype_name(self.dtype)
