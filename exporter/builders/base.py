"""The interface between the backend and whatever turns a graph into an engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Protocol, Tuple, runtime_checkable

import torch

from ..blob import Flavour, TensorSpec
from ..compile_specs import TensorRTCompileSpec


@dataclass(frozen=True)
class EngineBuildRequest:
    """Everything a builder needs to build one delegate's engine.

    Attributes:
        module: an aten-level callable taking the delegate's user inputs in
            order and returning its outputs in order (for the backend: the edge
            program's ``module()``; its edge ops dispatch to aten). Its graph
            is the builder's to change; its weights are the program's (not
            copied), to read only.
        example_inputs: one tensor per input spec, of its shape and dtype.
        input_specs: the delegate's inputs; engines must name theirs alike.
        output_specs: the delegate's outputs; engines must name theirs alike.
        compile_spec: the user's options.
        progress_label: what a progress display calls this build.
    """

    module: torch.nn.Module
    example_inputs: Tuple[torch.Tensor, ...]
    input_specs: Tuple[TensorSpec, ...]
    output_specs: Tuple[TensorSpec, ...]
    compile_spec: TensorRTCompileSpec
    progress_label: str = "TensorRT"


@dataclass(frozen=True)
class BuiltEngine:
    """A builder's result: the engine bytes and what the blob records about them."""

    engine: bytes = field(repr=False)
    flavour: Flavour
    builder_version: str
    version_compatible: bool = False
    # Bytes of weights in the engine as the builder reports them (the split of
    # a program-wide weight-streaming budget uses it); None: not reported.
    weight_bytes: Optional[int] = None
    # Engine tensor names (inputs, outputs) when the engine names its tensors
    # itself (prebuilt engines); None: named input_<i> / output_<i>.
    io_names: Optional[Tuple[Tuple[str, ...], Tuple[str, ...]]] = None
    # Bytes of device memory the engine's execution context needs, when the
    # builder knows them at export; the delegate sizes its shared execution
    # memory pool from them (blob entry hint). None: known only at load.
    execution_memory_bytes: Optional[int] = None
    # Seconds of the build spent converting the graph to ONNX (the export
    # summary shows them apart from TensorRT's own build); 0: none.
    onnx_seconds: float = 0.0
    # With ``compile_spec.external_weights``: the weights the engine was built
    # without, as (the engine's name for it, its value), in the order the
    # engine lists them; the delegate refits the engine with them at load.
    external_weights: Tuple[Tuple[str, torch.Tensor], ...] = field(default=(), repr=False)


@runtime_checkable
class EngineBuilder(Protocol):
    """Builds an engine; register implementations with ``register_engine_builder``.

    Optional attribute ``builds_state`` (read with ``getattr``, default
    False): the builder builds engines that take owned state (README, "State
    in place") as extra inputs and outputs, so the partitioner moves mutable
    buffers into its partitions.

    Optional attribute ``builds_refittable_engines`` (default True): with
    ``external_weights`` it builds weight-stripped engines the delegate
    refits at load; False (TensorRT-RTX on a machine without a CUDA GPU):
    the engines take their weights as extra inputs instead, which the
    delegate binds to one device copy read from the ``.ptd``."""

    name: str

    def build(self, request: EngineBuildRequest) -> BuiltEngine: ...


class EngineBuilderUnavailableError(ImportError):
    """The Python package a builder needs is not installed (or fails to load)."""


class EngineBuildError(RuntimeError):
    """The builder refused the graph.

    ``nodes`` names the nodes of ``EngineBuildRequest.module``'s graph the
    builder found responsible (empty when it could not tell); the exporter
    moves them to the CPU and builds again. ``reason`` is the builder's own
    message about them; ``partition`` (set by the backend) every operator of
    the partition that failed.
    """

    def __init__(
        self, message: str, nodes: Tuple[str, ...] = (), reason: str = "", partition: Tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.nodes = tuple(nodes)
        self.reason = reason or message
        self.partition = tuple(partition)
