"""Engine builders: turn a delegated graph into engine bytes."""

from ..builder_registry import register_engine_builder, registered_engine_builders, unregister_engine_builder
from .base import BuiltEngine, EngineBuilder, EngineBuilderUnavailableError, EngineBuildError, EngineBuildRequest
from .registry import PREBUILT_BUILDER, get_engine_builder, resolve_engine_builder_name

__all__ = [
    "BuiltEngine",
    "EngineBuildError",
    "EngineBuildRequest",
    "EngineBuilder",
    "EngineBuilderUnavailableError",
    "PREBUILT_BUILDER",
    "get_engine_builder",
    "register_engine_builder",
    "registered_engine_builders",
    "resolve_engine_builder_name",
    "unregister_engine_builder",
]
