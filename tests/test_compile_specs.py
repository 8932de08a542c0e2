"""TensorRTCompileSpec validation and its compile-spec encoding."""

from __future__ import annotations

import dataclasses
import sys

import pytest
from executorch.exir.backend.compile_spec_schema import CompileSpec
from executorch_tensorrt.exporter import TensorRTCompileSpec
from executorch_tensorrt.exporter.compile_specs import KNOWN_KEYS
from executorch_tensorrt.exporter.builders import (
    EngineBuilderUnavailableError,
    get_engine_builder,
    register_engine_builder,
    resolve_engine_builder_name,
    unregister_engine_builder,
)
from executorch_tensorrt.exporter.builders.tensorrt import TensorRTEngineBuilder


def test_defaults() -> None:
    spec = TensorRTCompileSpec()
    assert (spec.engine_builder, spec.device_index, spec.workspace_bytes, spec.version_compatible) == (
        "auto",
        0,
        None,
        False,
    )


def test_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        TensorRTCompileSpec().device_index = 1  # type: ignore[misc]


def test_to_compile_specs_encoding() -> None:
    spec = TensorRTCompileSpec("tensorrt_rtx", device_index=3, workspace_bytes=1 << 30, version_compatible=True)
    assert [(s.key, s.value) for s in spec.to_compile_specs()] == [
        ("engine_builder", b"tensorrt_rtx"),
        ("device_index", b"3"),
        ("workspace_bytes", b"1073741824"),
        ("version_compatible", b"1"),
        ("batch_engines", b"max_batch"),  # always written: inspect shows how the engines were split
    ]
    # An unset workspace is left out rather than encoded as a sentinel.
    assert "workspace_bytes" not in {s.key for s in TensorRTCompileSpec().to_compile_specs()}
    assert all(isinstance(s, CompileSpec) and s.value.isascii() for s in spec.to_compile_specs())


@pytest.mark.parametrize(
    "spec",
    [
        TensorRTCompileSpec(),
        TensorRTCompileSpec("tensorrt", 7, 0, True),
        TensorRTCompileSpec("tensorrt_rtx", 2**31 - 1, 2**63 - 1, False),
    ],
)
def test_round_trip(spec: TensorRTCompileSpec) -> None:
    assert TensorRTCompileSpec.from_compile_specs(spec.to_compile_specs()) == spec


def test_every_field_round_trips_in_key_order() -> None:
    spec = TensorRTCompileSpec(
        "tensorrt_rtx",
        device_index=1,
        workspace_bytes=1 << 20,
        version_compatible=True,
        precision="fp16",
        optimization_level=3,
        timing_cache="/tmp/trt.cache",
        enable_weight_streaming=True,
        compute_capabilities=("sm89", "sm120"),
        optimization_profiles=({"s0": (1, 2, 4)}, {"s0": (5, 8, 16), "s1": (3, 3, 3)}),
        weight_streaming_budget=2**63 - 1,
        init_policy="deferred_context",
        output_buffers="fresh",
        batch_engines="per_range",
        execution_memory="process",
        host_staging="pageable",
        cuda_graphs=True,
        execution_contexts=4,
        external_weights=True,
        named_engines=True,
    )
    encoded = spec.to_compile_specs()
    assert [s.key for s in encoded] == list(KNOWN_KEYS)
    values = {s.key: s.value for s in encoded}
    assert values["optimization_profiles"] == b'[{"s0":[1,2,4]},{"s0":[5,8,16],"s1":[3,3,3]}]'
    assert values["weight_streaming_budget"] == b"9223372036854775807"
    assert values["compute_capabilities"] == b"sm89,sm120"
    assert TensorRTCompileSpec.from_compile_specs(encoded) == spec


def test_unset_fields_are_not_written() -> None:
    keys = [s.key for s in TensorRTCompileSpec().to_compile_specs()]
    assert keys == ["engine_builder", "device_index", "version_compatible", "batch_engines"]


@pytest.mark.parametrize(
    "key, value, match",
    [
        ("weight_streaming_budget", b"-0", "non-negative decimal"),
        ("weight_streaming_budget", b"9223372036854775808", "below 2\\*\\*63"),
        ("weight_streaming_budget", b"1 ", "non-negative decimal"),
        ("init_policy", b"lazy", "init_policy must be one of"),
        ("output_buffers", b"", "output_buffers must be one of"),
        ("optimization_profiles", b"[{", "not valid JSON"),
        ("optimization_profiles", b'[{"s0": [4, 2, 8]}]', "min <= opt <= max"),
        ("enable_weight_streaming", b"yes", "'0' or '1'"),
        ("optimization_level", b"9", "optimization_level must be <= 5"),
        ("batch_engines", b"per_batch", "batch_engines must be one of max_batch, per_range; got 'per_batch'"),
        ("execution_memory", b"shared", "execution_memory must be one of private, program, process; got 'shared'"),
    ],
)
def test_new_keys_are_parsed_strictly(key: str, value: bytes, match: str) -> None:
    with pytest.raises((TypeError, ValueError), match=match):
        TensorRTCompileSpec.from_compile_specs([CompileSpec(key, value)])


def test_from_compile_specs_defaults_missing_keys() -> None:
    assert TensorRTCompileSpec.from_compile_specs([]) == TensorRTCompileSpec()
    assert TensorRTCompileSpec.from_compile_specs([CompileSpec("device_index", b"2")]).device_index == 2


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"engine_builder": 3}, TypeError, "engine_builder must be a str"),
        ({"engine_builder": "TensorRT"}, ValueError, "not a valid builder name"),
        ({"engine_builder": ""}, ValueError, "not a valid builder name"),
        (
            {"engine_builder": "tensorrt-llm"},
            ValueError,
            "unknown engine_builder 'tensorrt-llm'.*register_engine_builder",
        ),
        ({"device_index": True}, TypeError, "device_index must be an int, got bool"),
        ({"device_index": 1.0}, TypeError, "device_index must be an int, got float"),
        ({"device_index": "0"}, TypeError, "device_index must be an int, got str"),
        ({"device_index": -1}, ValueError, "device_index must be >= 0, got -1"),
        ({"device_index": 2**31}, ValueError, "device_index must be <="),
        ({"workspace_bytes": -5}, ValueError, "workspace_bytes must be >= 0"),
        ({"workspace_bytes": False}, TypeError, "workspace_bytes must be an int number of bytes, got bool"),
        ({"workspace_bytes": 1.5e9}, TypeError, "workspace_bytes must be an int"),
        ({"workspace_bytes": 2**63}, ValueError, "workspace_bytes must be below 2\\*\\*63"),
        ({"version_compatible": 1}, TypeError, "version_compatible must be a bool, got int"),
        ({"version_compatible": "yes"}, TypeError, "version_compatible must be a bool"),
        ({"batch_engines": None}, ValueError, "batch_engines must be one of max_batch, per_range; got None"),
        ({"batch_engines": "per_batch"}, ValueError, "batch_engines must be one of max_batch, per_range"),
        ({"execution_memory": "shared"}, ValueError, "execution_memory must be one of private, program, process"),
        ({"execution_memory": 1}, ValueError, "execution_memory must be one of private, program, process; got 1"),
    ],
)
def test_validation(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        TensorRTCompileSpec(**kwargs)


@pytest.mark.parametrize(
    "specs, error, match",
    [
        ([CompileSpec("max_batch", b"4")], ValueError, "unknown TensorRT compile spec key.*max_batch.*known keys"),
        (
            [CompileSpec("device_index", b"1"), CompileSpec("device_index", b"2")],
            ValueError,
            "given more than once: device_index",
        ),
        ([CompileSpec("device_index", b"-1")], ValueError, "non-negative decimal"),
        ([CompileSpec("device_index", b"+1")], ValueError, "non-negative decimal"),
        ([CompileSpec("device_index", b" 1")], ValueError, "non-negative decimal"),
        ([CompileSpec("device_index", b"01")], ValueError, "non-negative decimal"),
        ([CompileSpec("workspace_bytes", b"1e9")], ValueError, "non-negative decimal"),
        ([CompileSpec("version_compatible", b"true")], ValueError, "'0' or '1'"),
        ([CompileSpec("engine_builder", "tensorrt\u00e9".encode())], ValueError, "non-ASCII"),
        ([CompileSpec("engine_builder", b"nope")], ValueError, "unknown engine_builder 'nope'"),
        ([("device_index", b"1")], TypeError, "expected CompileSpec"),
        ([CompileSpec("device_index", "1")], TypeError, "expected CompileSpec"),  # type: ignore[arg-type]
        (CompileSpec("device_index", b"1"), TypeError, "must be a list of CompileSpec"),
    ],
)
def test_from_compile_specs_rejections(specs: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        TensorRTCompileSpec.from_compile_specs(specs)  # type: ignore[arg-type]


def test_unknown_keys_are_all_named() -> None:
    specs = [CompileSpec("b_key", b"1"), CompileSpec("a_key", b"1"), CompileSpec("device_index", b"0")]
    with pytest.raises(ValueError, match="a_key, b_key"):
        TensorRTCompileSpec.from_compile_specs(specs)


class _Dummy:
    name = "dummy"

    def build(self, request):  # pragma: no cover - never called here
        raise AssertionError


def test_registered_builder_names_are_accepted() -> None:
    with pytest.raises(ValueError, match="unknown engine_builder 'dummy'"):
        TensorRTCompileSpec(engine_builder="dummy")
    register_engine_builder("dummy", _Dummy())
    try:
        assert TensorRTCompileSpec(engine_builder="dummy").engine_builder == "dummy"
        assert isinstance(get_engine_builder("dummy"), _Dummy)
    finally:
        unregister_engine_builder("dummy")


@pytest.mark.parametrize(
    "name, builder, error, match",
    [
        ("auto", _Dummy(), ValueError, "reserved"),
        ("Bad Name", _Dummy(), ValueError, "lowercase ASCII"),
        ("nobuild", object(), TypeError, "build\\(request\\)"),
    ],
)
def test_register_rejections(name: str, builder: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        register_engine_builder(name, builder)  # type: ignore[arg-type]


def test_auto_prefers_tensorrt_then_rtx(monkeypatch: pytest.MonkeyPatch) -> None:
    from executorch_tensorrt.exporter.builders import registry

    available = {"tensorrt": False, "tensorrt_rtx": True}
    monkeypatch.setattr(registry, "_importable", lambda name: available[name])
    assert resolve_engine_builder_name("auto") == "tensorrt_rtx"
    builder = get_engine_builder("auto")
    assert isinstance(builder, TensorRTEngineBuilder) and builder.name == "tensorrt_rtx"
    available["tensorrt"] = True
    assert resolve_engine_builder_name("auto") == "tensorrt"
    available.update(tensorrt=False, tensorrt_rtx=False)
    with pytest.raises(EngineBuilderUnavailableError, match="pip install tensorrt-rtx-cu13"):
        get_engine_builder("auto")


def test_real_environment_resolves_auto() -> None:
    # This machine has tensorrt_rtx; `tensorrt` wins where it is installed.
    assert resolve_engine_builder_name("auto") in ("tensorrt", "tensorrt_rtx")


def test_missing_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    # sys.modules[name] = None makes `import name` raise ImportError.
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    with pytest.raises(EngineBuilderUnavailableError, match="`pip install tensorrt`"):
        TensorRTEngineBuilder("tensorrt")._import()
    monkeypatch.setitem(sys.modules, "tensorrt_rtx", None)
    with pytest.raises(EngineBuilderUnavailableError, match="`pip install tensorrt-rtx-cu13`"):
        TensorRTEngineBuilder("tensorrt_rtx")._import()
