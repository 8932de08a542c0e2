"""Export PyTorch models to ExecuTorch programs that run on NVIDIA TensorRT."""

from .api import export, save
from .backend_details import ExecutorchTensorRTBackend
from .builders import (
    BuiltEngine,
    EngineBuilder,
    EngineBuildRequest,
    get_engine_builder,
    register_engine_builder,
    unregister_engine_builder,
)
from .compile_specs import TensorRTCompileSpec
from .inspect import ProgramReport, format_report, inspect_program
from .partitioner import TensorRTPartitioner

__all__ = [
    "BuiltEngine",
    "EngineBuildRequest",
    "EngineBuilder",
    "ExecutorchTensorRTBackend",
    "ProgramReport",
    "TensorRTCompileSpec",
    "TensorRTPartitioner",
    "export",
    "format_report",
    "get_engine_builder",
    "inspect_program",
    "register_engine_builder",
    "save",
    "unregister_engine_builder",
]
