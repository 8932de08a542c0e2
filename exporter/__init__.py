"""Export PyTorch models to ExecuTorch programs that run on NVIDIA TensorRT."""

from .api import ExportedTensorRTProgram, SavedProgram, export, save
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
from .engine_sources import EngineTensor, save_engine, save_onnx
from .inspect import ProgramReport, format_report, inspect_program
from .summary import ExportSummary
from .partitioner import TensorRTPartitioner

__all__ = [
    "BuiltEngine",
    "EngineBuildRequest",
    "EngineBuilder",
    "EngineTensor",
    "ExportedTensorRTProgram",
    "ExecutorchTensorRTBackend",
    "ExportSummary",
    "ProgramReport",
    "SavedProgram",
    "TensorRTCompileSpec",
    "TensorRTPartitioner",
    "export",
    "format_report",
    "get_engine_builder",
    "inspect_program",
    "register_engine_builder",
    "save",
    "save_engine",
    "save_onnx",
    "unregister_engine_builder",
]
