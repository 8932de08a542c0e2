"""Engine builders: turn a delegated graph into engine bytes."""

from .base import BuiltEngine, EngineBuilder, EngineBuilderUnavailableError, EngineBuildRequest
from .registry import (
    get_engine_builder,
    register_engine_builder,
    registered_engine_builders,
    resolve_engine_builder_name,
    unregister_engine_builder,
)

__all__ = [
    "BuiltEngine",
    "EngineBuildRequest",
    "EngineBuilder",
    "EngineBuilderUnavailableError",
    "get_engine_builder",
    "register_engine_builder",
    "registered_engine_builders",
    "resolve_engine_builder_name",
    "unregister_engine_builder",
]
