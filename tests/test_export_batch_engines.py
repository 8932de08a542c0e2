"""Batch-aware engines and execution-memory options on the export side:
``batch_engines`` (one engine per optimization profile or one for all),
``execution_memory`` (baked for the delegate), the builders' execution-memory
hints in the delegate blob, and what ``inspect`` and the summary show."""

from __future__ import annotations

import io
import struct
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
import torch
from executorch_tensorrt.cli import main
from executorch_tensorrt.exporter import blob, export, inspect_program, save
from executorch_tensorrt.exporter.builders import BuiltEngine, EngineBuildRequest
from executorch_tensorrt.exporter.engine_ranges import engine_examples, profile_groups, ranges_text
from executorch_tensorrt.exporter.inspect import format_report, need_text
from memory_programs import (
    BATCH_FEATURES,
    NO_WEIGHTS,
    BatchedElementwise,
    MemoryTestBuilder,
    export_batch_range_program,
    export_engine_chain_program,
    registered,
)
from test_engine_builder import TestEngineBuilder
from test_exporter import _payloads

PER_BATCH = 1024  # activation bytes per batch row in export_batch_range_program


def _entries(path: Path) -> List[List[blob.EngineEntry]]:
    return [blob.decode_engines(p) for p in _payloads(path.read_bytes())]


def _batch_ranges(entry: blob.EngineEntry) -> List[Tuple[int, int]]:
    (x,) = entry.blob.metadata.inputs
    return [(r.min[0], r.max[0]) for r in x.ranges]


# --- the engines a delegate gets ------------------------------------------------


def test_per_range_builds_one_engine_per_profile_in_ascending_order(tmp_path: Path) -> None:
    ranges = ((33, 128), (1, 8), (9, 32))  # given out of order on purpose
    path = export_batch_range_program(tmp_path, batch_engines="per_range", ranges=ranges)
    (entries,) = _entries(path)
    assert [_batch_ranges(e) for e in entries] == [[(1, 8)], [(9, 32)], [(33, 128)]]
    assert [e.blob.metadata.num_profiles for e in entries] == [1, 1, 1]
    # Each engine's outputs follow its own range; the builder's hint is its activation need.
    assert [[(r.min[0], r.max[0]) for r in e.blob.metadata.outputs[0].ranges] for e in entries] == [
        [(1, 8)], [(9, 32)], [(33, 128)]
    ]
    assert [e.execution_memory_bytes for e in entries] == [PER_BATCH * 8, PER_BATCH * 32, PER_BATCH * 128]
    # The engines differ: each program carries its own activation directive.
    assert [e.blob.engine.decode().splitlines()[3] for e in entries] == [
        f"activation {PER_BATCH * n}" for n in (8, 32, 128)
    ]


def test_max_batch_builds_one_engine_with_every_profile(tmp_path: Path) -> None:
    path = export_batch_range_program(tmp_path, batch_engines="max_batch")
    ((entry,),) = _entries(path)
    assert _batch_ranges(entry) == [(1, 8), (9, 32), (33, 128)]
    assert entry.blob.metadata.num_profiles == 3
    assert entry.execution_memory_bytes == PER_BATCH * 128


def test_with_one_profile_per_range_is_max_batch(tmp_path: Path) -> None:
    paths = [
        export_batch_range_program(tmp_path, batch_engines=mode, ranges=((2, 16),), name=mode)
        for mode in ("per_range", "max_batch")
    ]
    per_range, max_batch = (_payloads(p.read_bytes()) for p in paths)
    assert per_range == max_batch
    assert [len(blob.decode_engines(p)) for p in per_range] == [1]


def test_options_are_recorded_in_the_compile_specs(tmp_path: Path) -> None:
    path = export_batch_range_program(tmp_path, batch_engines="per_range", execution_memory="process")
    (delegate,) = inspect_program(path).tensorrt_delegates
    assert (delegate.compile_specs["batch_engines"], delegate.compile_specs["execution_memory"]) == (
        "per_range",
        "process",
    )
    default = export_batch_range_program(tmp_path, batch_engines="max_batch", name="default")
    (delegate,) = inspect_program(default).tensorrt_delegates
    assert delegate.compile_specs["batch_engines"] == "max_batch"
    assert "execution_memory" not in delegate.compile_specs  # unset: the delegate's default (program)


def test_static_delegates_of_a_per_range_program_get_one_engine(test_engine_builder: TestEngineBuilder) -> None:
    class StaticAfterDynamic(torch.nn.Module):
        def forward(self, x: torch.Tensor, y: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
            # y + 1 and * 2 cannot share a delegate (the CPU sigmoid lies between them).
            return x + 1.0, torch.sigmoid(y + 1.0) * 2.0

    batch = torch.export.Dim("batch", min=1, max=32)
    pte = export(
        StaticAfterDynamic(), (torch.zeros(4, 3), torch.zeros(2, 2)), engine_builder="test",
        dynamic_shapes=({0: batch}, None), optimization_profiles=[{"batch": (1, 8, 8)}, {"batch": (9, 32, 32)}],
        batch_engines="per_range", torch_executed_ops=["aten.sigmoid.default"],
    ).buffer
    counts = sorted(len(blob.decode_engines(p)) for p in _payloads(pte))
    assert counts == [1, 2]  # the delegate of y alone has one static profile, hence one engine


@pytest.mark.parametrize(
    "options, match",
    [
        ({"batch_engines": "per_batch"}, "batch_engines must be one of max_batch, per_range; got 'per_batch'"),
        ({"batch_engines": None}, "batch_engines must be one of max_batch, per_range; got None"),
        ({"execution_memory": "shared"}, "execution_memory must be one of private, program, process; got 'shared'"),
    ],
)
def test_bad_option_values_are_refused_before_export(tmp_path: Path, options: Dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        save(BatchedElementwise(), tmp_path / "m.pte", inputs=(torch.zeros(2, BATCH_FEATURES),), **options)
    assert not (tmp_path / "m.pte").exists()


def test_per_range_refuses_more_engines_than_a_blob_holds() -> None:
    with pytest.raises(ValueError, match="at most 16 per delegate; got 17 profiles"):
        profile_groups(17, "per_range")


@pytest.mark.parametrize(
    "num_profiles, mode, groups",
    [
        (1, "max_batch", [(0,)]),
        (3, "max_batch", [(0, 1, 2)]),
        (1, "per_range", [(0,)]),
        (3, "per_range", [(0,), (1,), (2,)]),
    ],
)
def test_profile_groups(num_profiles: int, mode: str, groups: List[Tuple[int, ...]]) -> None:
    assert profile_groups(num_profiles, mode) == groups


def test_engine_examples_fit_the_engine_ranges() -> None:
    spec = blob.TensorSpec("input_0", 6, (blob.ShapeRange((9, 4), (32, 4), (32, 4)),))
    inside = (torch.ones(16, 4),)
    assert engine_examples(inside, (spec,))[0] is inside[0]  # kept as traced
    (outside,) = engine_examples((torch.ones(4, 4),), (spec,))
    assert (tuple(outside.shape), outside.dtype) == ((32, 4), torch.float32)  # the range's opt shape
    assert ranges_text((spec,)) == "input_0 [9, 4]..[32, 4]"


# --- what builders report ---------------------------------------------------------


def test_each_engines_hint_lands_in_its_delegate_blob(tmp_path: Path) -> None:
    activations = [3000, 512, 70000, 1]
    path = export_engine_chain_program(tmp_path, activations, execution_memory="private")
    entries = _entries(path)
    assert [len(e) for e in entries] == [1, 1, 1, 1]
    assert [e[0].execution_memory_bytes for e in entries] == activations
    assert all(
        inspect_program(path).tensorrt_delegates[i].compile_specs["execution_memory"] == "private" for i in range(4)
    )


class _BadHint(TestEngineBuilder):
    __test__ = False
    name = "bad_hint"

    def build(self, request: EngineBuildRequest) -> BuiltEngine:
        built = super().build(request)
        return BuiltEngine(built.engine, built.flavour, built.builder_version, execution_memory_bytes=-5)


def test_a_negative_hint_from_a_builder_is_refused() -> None:
    with registered("bad_hint", _BadHint()):
        with pytest.raises(ValueError, match="engine builder 'bad_hint' returned execution_memory_bytes=-5"):
            export(BatchedElementwise(), (torch.zeros(2, BATCH_FEATURES),), engine_builder="bad_hint")


class _LabelRecorder(MemoryTestBuilder):
    __test__ = False

    def __init__(self) -> None:
        super().__init__(NO_WEIGHTS)
        self.labels: List[str] = []
        self.example_batches: List[int] = []

    def build(self, request: EngineBuildRequest) -> BuiltEngine:
        self.labels.append(request.progress_label)
        self.example_batches.append(int(request.example_inputs[0].shape[0]))
        return super().build(request)


def test_progress_labels_name_each_range_engine(tmp_path: Path) -> None:
    recorder = _LabelRecorder()
    batch = torch.export.Dim("batch", min=1, max=64)
    with registered("label_recorder", recorder):
        save(
            BatchedElementwise(), tmp_path / "m.pte", inputs=(torch.zeros(4, BATCH_FEATURES),),
            dynamic_shapes=({0: batch},), optimization_profiles=[{"batch": (1, 8, 8)}, {"batch": (9, 32, 64)}],
            engine_builder="label_recorder", batch_engines="per_range",
        )
    assert recorder.labels == ["TensorRT engine 1/1, range 1/2", "TensorRT engine 1/1, range 2/2"]
    # The traced example (batch 4) serves the first range; the second is given its opt shape.
    assert recorder.example_batches == [4, 32]


# --- what inspect and the summary show --------------------------------------------


def test_inspect_lists_engines_needs_and_the_pool(tmp_path: Path) -> None:
    path = export_batch_range_program(tmp_path, batch_engines="per_range", execution_memory="program")
    report = inspect_program(path)
    (delegate,) = report.tensorrt_delegates
    assert [e.execution_memory_bytes for e in delegate.engines] == [8192, 32768, 131072]
    assert [e.inputs[0].shapes for e in delegate.engines] == [
        ["[1, 4]..[8, 4] (opt [8, 4])"], ["[9, 4]..[32, 4] (opt [32, 4])"], ["[33, 4]..[128, 4] (opt [128, 4])"]
    ]
    assert delegate.engine == delegate.engines[0]
    text = format_report(report)
    assert "engines: 3 (batch_engines=per_range, execution_memory=program)" in text
    assert "      engine 0 of 3: " in text  # the signature shown is engine 0's
    assert "engine 1: 1" in text and "execution memory 32,768 bytes; x [9, 4]..[32, 4] (opt [32, 4])" in text  # x: forward()'s argument
    assert "run-time defaults: init_policy=deferred, execution_memory=program" in text
    pool = "execution memory (known needs of 3 engine(s)): 172,032 bytes if private, 131,072 bytes in one shared pool"
    assert pool in text


def test_inspect_sums_needs_over_the_programs_delegates(tmp_path: Path) -> None:
    path = export_engine_chain_program(tmp_path, [1000, 5000, 3000])
    text = format_report(inspect_program(path))
    assert "9,000 bytes if private, 5,000 bytes in one shared pool" in text
    assert text.count("engines: 1 (batch_engines=max_batch)") == 3
    assert " of 1: " not in text


def test_inspect_shows_unknown_needs(tmp_path: Path, test_engine_builder: TestEngineBuilder) -> None:
    inputs = (torch.zeros(2, BATCH_FEATURES),)
    path = save(BatchedElementwise(), tmp_path / "m.pte", inputs=inputs, engine_builder="test")
    text = format_report(inspect_program(path))
    # The test engine's flavour: no TensorRT-RTX (nor TensorRT) reason is claimed for it.
    assert "execution memory known at load; " in text
    assert "TensorRT-RTX compiles" not in text
    assert "bytes if private" not in text


@pytest.mark.parametrize(
    "need, flavour, shown",
    [
        (4096, "tensorrt_rtx", "4,096 bytes"),
        (-1, "tensorrt_rtx", "known at load (TensorRT-RTX compiles for the device)"),
        (-1, "tensorrt", "known at load (TensorRT reports it only from the engine deserialized on a GPU)"),
        (-1, "test", "known at load"),
    ],
)
def test_unknown_need_text_depends_on_the_flavour(need: int, flavour: str, shown: str) -> None:
    assert need_text(need, flavour) == shown


def test_summary_lists_each_range_engine(tmp_path: Path) -> None:
    builder = MemoryTestBuilder(NO_WEIGHTS, activation_bytes_per_batch=10)
    batch = torch.export.Dim("batch", min=1, max=32)
    with registered("summary_ranges", builder):
        summary = save(
            BatchedElementwise(), tmp_path / "m.pte", inputs=(torch.zeros(4, BATCH_FEATURES),),
            dynamic_shapes=({0: batch},), optimization_profiles=[{"batch": (9, 32, 32)}, {"batch": (1, 8, 8)}],
            engine_builder="summary_ranges", batch_engines="per_range",
        ).summary
    (record,) = summary.engines
    assert [(e.ranges, e.execution_memory_bytes) for e in record.engines] == [
        ("input_0 [1, 4]..[8, 4]", 80),
        ("input_0 [9, 4]..[32, 4]", 320),
    ]
    assert record.engine_bytes == sum(e.engine_bytes for e in record.engines)
    text = summary.format()
    assert "range engine 0: input_0 [1, 4]..[8, 4];" in text and "execution memory 80 bytes" in text
    assert "range engine 1: input_0 [9, 4]..[32, 4];" in text and "execution memory 320 bytes" in text


def test_cli_batch_engines_and_execution_memory(
    tmp_path: Path, capsys: Any, test_engine_builder: TestEngineBuilder
) -> None:
    model = tmp_path / "batched.py"
    model.write_text(
        "import torch\n"
        "class M(torch.nn.Module):\n"
        "    def forward(self, x):\n"
        "        return torch.relu(x) * 2.0\n"
        "model = M()\n"
        "example_inputs = (torch.randn(4, 3),)\n"
        "dynamic_shapes = ({0: torch.export.Dim('batch', max=16)},)\n"
    )
    out = tmp_path / "m.pte"
    argv = ["export", str(model), "-o", str(out), "--engine-builder", "test", "--profile", "batch=1:2:4",
            "--profile", "batch=5:8:16", "--batch-engines", "per_range", "--execution-memory", "private"]
    assert main(argv) == 0, capsys.readouterr().err
    assert "range engine 1: input_0 [5, 3]..[16, 3]" in capsys.readouterr().out
    (delegate,) = inspect_program(out).tensorrt_delegates
    assert len(delegate.engines) == 2
    assert (delegate.compile_specs["batch_engines"], delegate.compile_specs["execution_memory"]) == (
        "per_range",
        "private",
    )
    assert main([*argv[:-4], "--batch-engines", "per_batch"]) == 2
    assert "invalid choice: 'per_batch'" in capsys.readouterr().err


def test_rtx_per_range_builds_an_engine_per_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    from executorch_tensorrt.exporter.builders import trt_logging

    tty = Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    monkeypatch.setattr(trt_logging, "SHOW_PROGRESS_AFTER_SECONDS", 0.0)  # these builds take under a second
    batch = torch.export.Dim("batch", min=1, max=16)
    pte = export(
        torch.nn.Linear(4, 2), (torch.randn(2, 4),), engine_builder="tensorrt_rtx", dynamic_shapes=({0: batch},),
        optimization_profiles=[{"batch": (1, 2, 4)}, {"batch": (5, 8, 16)}], batch_engines="per_range",
    ).buffer
    ((first, second),) = [blob.decode_engines(p) for p in _payloads(pte)]
    assert (first.blob.engine[:4], second.blob.engine[:4]) == (b"vtrt", b"vtrt")
    assert [_batch_ranges(first), _batch_ranges(second)] == [[(1, 4)], [(5, 16)]]
    assert (first.execution_memory_bytes, second.execution_memory_bytes) == (-1, -1)  # known at load
    drawn = tty.getvalue()
    assert "TensorRT engine 1/1, range 1/2" in drawn and "TensorRT engine 1/1, range 2/2" in drawn


def test_inspect_reports_an_old_format_blob_asking_to_re_export(tmp_path: Path) -> None:
    """Blobs of format versions 1 and 2 (executorch-tensorrt 0.1.0) are refused by name."""
    from pte_blobs import rewrite_program

    path = export_batch_range_program(tmp_path, batch_engines="max_batch")

    def to_version_2(program: Any) -> None:
        for data in program.backend_delegate_data:
            data.data = data.data[:4] + struct.pack("<H", 2) + data.data[6:]

    old = rewrite_program(path.read_bytes(), to_version_2)
    (delegate,) = inspect_program(old).tensorrt_delegates
    assert delegate.error is not None and "format version 2 is not supported" in delegate.error
    assert "re-export the model with this version of executorch-tensorrt" in delegate.error
