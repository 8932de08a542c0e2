"""torch -> ONNX, the format TensorRT's parser reads. No op lowering of our own."""

from __future__ import annotations

import contextlib
import logging
import warnings
from typing import Iterator, Sequence, Tuple

import torch

# Loggers torch.onnx reports through; quieted while exporting because their
# messages (e.g. "torchvision is not installed") do not concern our users.
_NOISY_LOGGERS = ("torch.onnx", "torch.export", "torch._export", "onnxscript", "onnx_ir")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    saved = {}
    for name in _NOISY_LOGGERS:
        logger = logging.getLogger(name)
        saved[name] = logger.level
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            # e.g. "Exporting a model while it is in training mode": the module is
            # an already-captured graph, whose train/eval flag means nothing.
            warnings.simplefilter("ignore")
            yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def export_onnx(
    module: torch.nn.Module,
    example_inputs: Tuple[torch.Tensor, ...],
    input_names: Sequence[str],
    output_names: Sequence[str],
) -> "torch.onnx.ONNXProgram":
    """Convert ``module`` with the dynamo-based ONNX exporter.

    Returns the ``ONNXProgram``; its ``model_proto`` is the in-memory model and
    ``save`` writes it with external data when it is too large for protobuf.
    """
    try:
        with _quiet(), torch.no_grad():
            program = torch.onnx.export(
                module,
                tuple(example_inputs),
                dynamo=True,
                input_names=list(input_names),
                output_names=list(output_names),
                verbose=False,
                report=False,
            )
    except Exception as err:
        raise RuntimeError(f"converting the delegated graph to ONNX for TensorRT failed: {err}") from err
    if program is None:  # only when an `f=` path is given, which we never do
        raise RuntimeError("torch.onnx.export returned no program")
    graph = program.model_proto.graph
    got_inputs = [value.name for value in graph.input]
    got_outputs = [value.name for value in graph.output]
    if got_inputs != list(input_names) or got_outputs != list(output_names):
        raise RuntimeError(
            "the ONNX export does not have the delegate's inputs/outputs: "
            f"expected inputs {list(input_names)} and outputs {list(output_names)}, "
            f"got inputs {got_inputs} and outputs {got_outputs}"
        )
    return program
