"""The delegate's I/O signature, derived from the edge program given to preprocess.

The delegate receives the partition's user inputs in graph-signature order and
returns its outputs in output order; the engine's tensors are named
``input_<i>`` / ``output_<i>`` after those positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

import torch
from torch.export import ExportedProgram
from torch.export.graph_signature import OutputKind

from .blob import ShapeRange, TensorSpec

# torch dtype -> ExecuTorch ScalarType code, for the dtypes TensorRT takes as I/O.
SUPPORTED_DTYPES = {
    torch.float32: 6,
    torch.float16: 5,
    torch.bfloat16: 15,
    torch.int32: 3,
    torch.int64: 4,
    torch.bool: 11,
    torch.uint8: 0,
    torch.int8: 1,
}


@dataclass(frozen=True)
class DelegateIO:
    inputs: Tuple[TensorSpec, ...]
    outputs: Tuple[TensorSpec, ...]
    # Same order as ``inputs``: what the example tensors must look like.
    input_values: Tuple[torch.Tensor, ...]


def input_name(index: int) -> str:
    return f"input_{index}"


def output_name(index: int) -> str:
    return f"output_{index}"


def _tensor_spec(name: str, what: str, value: object) -> TensorSpec:
    if not isinstance(value, torch.Tensor):
        raise ValueError(
            f"{what} is a {type(value).__name__}, not a tensor; TensorRT delegates take and return tensors only"
        )
    if value.dtype == torch.float64:
        raise ValueError(
            f"{what} is float64, which TensorRT cannot take as engine input or output; "
            "convert the model and its inputs to float32 (e.g. `model.float()`, `x.float()`) before exporting"
        )
    if value.dtype not in SUPPORTED_DTYPES:
        supported = ", ".join(str(d).replace("torch.", "") for d in SUPPORTED_DTYPES)
        raise ValueError(
            f"{what} has dtype {value.dtype}, which TensorRT I/O does not support; use one of: {supported}"
        )
    dims: List[int] = []
    for axis, dim in enumerate(value.shape):
        if not isinstance(dim, int):
            raise ValueError(
                f"{what} has a dynamic dimension {axis} ({dim}); dynamic shapes are not supported yet: "
                "export with static shapes (no `dynamic_shapes=`)"
            )
        dims.append(dim)
    # The delegate hands ExecuTorch's buffers to TensorRT as they are, and
    # TensorRT expects the contiguous (row-major) layout.
    if not value.is_contiguous():
        raise ValueError(
            f"{what} is not contiguous (e.g. channels_last); TensorRT I/O must be contiguous: "
            "call `.contiguous()` on example inputs and results"
        )
    return TensorSpec(name=name, dtype=SUPPORTED_DTYPES[value.dtype], ranges=(ShapeRange.static(dims),))


def _val(node: torch.fx.Node, what: str) -> object:
    if "val" not in node.meta:
        raise ValueError(f"{what} ({node.name}) carries no example value (node.meta['val']); re-export the model")
    return node.meta["val"]


def derive_io(edge_program: ExportedProgram) -> DelegateIO:
    """Static I/O specs and example values of the delegate's user inputs/outputs."""
    signature = edge_program.graph_signature
    placeholders = {n.name: n for n in edge_program.graph.nodes if n.op == "placeholder"}
    inputs: List[TensorSpec] = []
    values: List[torch.Tensor] = []
    for index, name in enumerate(signature.user_inputs):
        what = f"delegate input {index}"
        node = placeholders.get(name)
        if node is None:
            raise ValueError(f"{what} ({name}) is not a placeholder of the graph")
        value = _val(node, what)
        inputs.append(_tensor_spec(input_name(index), what, value))
        values.append(value)  # type: ignore[arg-type]

    output_node = next(n for n in edge_program.graph.nodes if n.op == "output")
    returned: Sequence[object] = output_node.args[0]  # type: ignore[assignment]
    if len(returned) != len(signature.output_specs):
        raise ValueError(
            f"the graph returns {len(returned)} values but its signature lists {len(signature.output_specs)}"
        )
    outputs: List[TensorSpec] = []
    for position, (arg, spec) in enumerate(zip(returned, signature.output_specs, strict=True)):
        if spec.kind != OutputKind.USER_OUTPUT:
            raise ValueError(
                f"delegated graph output {position} is a {spec.kind.name} ({spec.target}); "
                "only user outputs are supported (buffer mutation inside a TensorRT engine is not)"
            )
        what = f"delegate output {len(outputs)}"
        if not isinstance(arg, torch.fx.Node):
            raise ValueError(f"{what} is the constant {arg!r}, not a computed tensor")
        outputs.append(_tensor_spec(output_name(len(outputs)), what, _val(arg, what)))
    if not outputs:
        raise ValueError("the delegated graph has no outputs")
    return DelegateIO(tuple(inputs), tuple(outputs), tuple(values))


def example_inputs(io: DelegateIO) -> Tuple[torch.Tensor, ...]:
    """Real tensors of the inputs' shapes and dtypes (the graph's are fake).

    Ones for floating point (no log(0)/division by zero when an exporter runs
    the graph), zeros otherwise (valid indices for gathers/embeddings).
    """
    tensors = []
    for fake in io.input_values:
        fill = torch.ones if fake.dtype.is_floating_point else torch.zeros
        tensors.append(fill(tuple(int(d) for d in fake.shape), dtype=fake.dtype))
    return tuple(tensors)
