"""The accuracy check (``validate=``), ``keep_onnx``, the phase timings and
the user's names in ``inspect``: on the test engine (which runs here, so the
``.pte`` itself is compared) and on two small zoo architectures built with
TensorRT-RTX (whose engines cannot run here: their ONNX is compared)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from executorch_tensorrt.exporter import inspect_program, register_engine_builder, save
from executorch_tensorrt.exporter import unregister_engine_builder
from executorch_tensorrt.exporter.builders import BuiltEngine, EngineBuildRequest
from executorch_tensorrt.exporter.validate import (
    DEFAULT_TOLERANCES,
    Tolerance,
    ValidationError,
    compare,
    resolve_tolerance,
)
from test_engine_builder import TestEngineBuilder

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from zoo import SMALL_ZOO  # noqa: E402

TIGHT = Tolerance(atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize(
    "got, want, passed",
    [
        ([1.0, 2.0], [1.0, 2.0], True),
        ([1.00005, 2.0], [1.0, 2.0], True),  # within atol
        ([1000.5, 2.0], [1000.0, 2.0], True),  # within rtol * |want|
        ([1.01, 2.0], [1.0, 2.0], False),
        ([float("nan")], [float("nan")], True),
        ([float("nan")], [1.0], False),
        ([float("inf")], [float("inf")], True),
        ([float("inf")], [1.0], False),
        ([1.0, 2.0, 3.0], [1.0, 2.0], False),  # shape
    ],
)
def test_compare_cases(got: list, want: list, passed: bool) -> None:
    assert compare(torch.tensor(got), torch.tensor(want), TIGHT)[2] is passed


def test_compare_reports_max_abs_and_rel() -> None:
    max_abs, max_rel, passed = compare(torch.tensor([1.5, 10.0]), torch.tensor([1.0, 8.0]), TIGHT)
    assert (max_abs, max_rel, passed) == (2.0, 0.5, False)
    assert compare(torch.tensor([1, 2]), torch.tensor([1, 3]), TIGHT) == (math.inf, math.inf, False)
    assert compare(torch.tensor([1, 2]), torch.tensor([1, 2]), TIGHT) == (0.0, 0.0, True)


def test_tolerances() -> None:
    assert resolve_tolerance(False, None) is None
    assert resolve_tolerance(True, None) == DEFAULT_TOLERANCES["fp32"]
    assert resolve_tolerance(True, "fp16") == DEFAULT_TOLERANCES["fp16"]
    assert resolve_tolerance(TIGHT, "bf16") is TIGHT
    with pytest.raises(TypeError, match="validate must be True, False or a Tolerance"):
        resolve_tolerance("yes", None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="atol must be a finite number >= 0"):
        Tolerance(atol=-1.0, rtol=0.0)
    with pytest.raises(ValueError, match="rtol must be a finite number >= 0"):
        Tolerance(atol=0.0, rtol=float("nan"))


class Elementwise(torch.nn.Module):
    """Two test-engine partitions around a sigmoid kept on the CPU."""

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        y = torch.relu(image) * 2.0 - 0.5
        return torch.sigmoid(y) + mask


class WrongEngineBuilder(TestEngineBuilder):
    """Builds engines computing neg where the graph has relu: a wrong engine."""

    def build(self, request: EngineBuildRequest) -> BuiltEngine:
        built = super().build(request)
        return BuiltEngine(built.engine.replace(b"= relu", b"= neg"), built.flavour, built.builder_version)


@pytest.fixture
def wrong_engine_builder():
    register_engine_builder("wrong", WrongEngineBuilder())
    try:
        yield
    finally:
        unregister_engine_builder("wrong")


BATCH = torch.export.Dim("batch", min=1, max=16)
ELEMENTWISE = {
    "torch_executed_ops": ["aten.sigmoid"],
    "dynamic_shapes": ({0: BATCH}, {0: BATCH}),
}


def test_validate_runs_the_pte_and_the_partitions_onnx(test_engine, test_engine_builder, tmp_path: Path) -> None:
    inputs = (torch.randn(4, 3), torch.randn(4, 3))
    saved = save(
        Elementwise(), tmp_path / "m.pte", inputs, engine_builder="test", validate=True, keep_onnx=tmp_path,
        **ELEMENTWISE,
    )
    out, summary = saved.path, saved.summary
    report = summary.validation
    assert report is not None and report.passed and not report.skipped
    checks = [c.check for c in report.comparisons]
    assert checks == [
        "forward delegate 0: ONNX Runtime vs PyTorch",
        "forward delegate 1: ONNX Runtime vs PyTorch",
        "forward: program with ONNX Runtime partitions vs eager PyTorch",
        "forward: the .pte through the delegate vs eager PyTorch",  # the test engine runs here
    ]
    assert sorted(p.name for p in tmp_path.glob("*.onnx")) == ["forward_delegate0.onnx", "forward_delegate1.onnx"]
    assert all(c.max_abs < 1e-5 for c in report.comparisons)
    phases = summary.phases
    assert phases.torch_export > 0 and phases.partitioning > 0 and phases.executorch_lowering > 0
    assert phases.emit > 0 and phases.validation > 0 and phases.write > 0
    assert "validation passed" in summary.format() and "phases (s): torch export" in summary.format()

    # inspect speaks the user's terms: forward()'s argument names and the Dim's name.
    first, second = inspect_program(out).tensorrt_delegates
    assert [t.name for t in first.engine.inputs] == ["image"]  # type: ignore[union-attr]
    assert [t.name for t in second.engine.inputs] == ["aten::sigmoid.default output", "mask"]  # type: ignore[union-attr]
    assert [t.engine_name for t in second.engine.inputs] == ["input_0", "input_1"]  # type: ignore[union-attr]
    assert first.profiles == [{"batch": [1, 4, 16]}]


def test_validate_fails_the_export_of_a_wrong_engine(test_engine, wrong_engine_builder, tmp_path: Path) -> None:
    target = tmp_path / "wrong.pte"
    with pytest.raises(ValidationError, match=r"the \.pte through the delegate vs eager PyTorch, output 0") as caught:
        save(Elementwise(), target, (torch.randn(4, 3), torch.randn(4, 3)), engine_builder="wrong", validate=True,
             **ELEMENTWISE)
    assert not target.exists()
    # The partitions' ONNX is right (it does not come from the engine builder): only the .pte fails.
    failed = {c.check for c in caught.value.report.failures}
    assert failed == {"forward: the .pte through the delegate vs eager PyTorch"}
    # Without validate the same export goes through.
    save(Elementwise(), target, (torch.randn(4, 3), torch.randn(4, 3)), engine_builder="wrong", **ELEMENTWISE)
    assert target.exists()


class MutatesItsInput(torch.nn.Module):
    """Writes into its input before computing with it (ExecuTorch copies the mutation back)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x.add_(1.0)
        return x * 2.0


def test_validate_gives_each_run_the_inputs_as_given(test_engine, test_engine_builder, tmp_path: Path) -> None:
    # Each check (eager, partitions, program, .pte) once ran on the inputs the
    # previous one had mutated: an export of a correct program failed validation.
    x = torch.randn(4, 3)
    given = x.clone()
    saved = save(MutatesItsInput(), tmp_path / "m.pte", (x,), engine_builder="test", validate=True)
    report = saved.summary.validation
    assert report is not None and report.passed and not report.skipped, report.format_lines()
    # The ExecuTorch method returns the input it wrote first, then forward()'s result.
    pte = [c.output for c in report.comparisons if c.check == "forward: the .pte through the delegate vs eager PyTorch"]
    assert pte == ["input x as written", "output 0"]
    assert all(c.max_abs < 1e-6 for c in report.comparisons)
    assert torch.equal(x, given)  # the caller's tensor is left as it was


class CountsItsInputs(torch.nn.Module):
    """Updates a buffer on every call (its state lives on in the program)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("total", torch.zeros(4, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.total.add_(x)
        return x * self.total


def test_validate_leaves_a_models_buffers_as_they_were(test_engine, test_engine_builder, tmp_path: Path) -> None:
    # The eager run and each check once updated the program's own buffer, so
    # each later check started from the last one's state and failed.
    from executorch_tensorrt.runtime import load

    x = torch.randn(4, 3)
    model = CountsItsInputs()
    saved = save(model, tmp_path / "m.pte", (x,), engine_builder="test", validate=True)
    report = saved.summary.validation
    assert report is not None and report.passed and not report.skipped, report.format_lines()
    assert torch.equal(model.total, torch.zeros(4, 3))
    # The program starts from the buffer's value at export: x * x, then x * 2x.
    program = load(saved.path)
    first, second = program.forward(x.clone())[-1], program.forward(x.clone())[-1]
    torch.testing.assert_close(first, x * x)
    torch.testing.assert_close(second, x * 2 * x)


def test_keep_onnx_without_validate(test_engine_builder, tmp_path: Path) -> None:
    inputs = (torch.randn(4, 3), torch.randn(4, 3))
    with pytest.raises(NotADirectoryError, match="keep_onnx=.* is not a directory; create it first"):
        save(Elementwise(), tmp_path / "m.pte", inputs, keep_onnx=tmp_path / "no")
    summary = save(
        Elementwise(), tmp_path / "m.pte", inputs, engine_builder="test", keep_onnx=tmp_path, **ELEMENTWISE
    ).summary
    report = summary.validation
    assert report is not None and report.tolerance is None and not report.comparisons
    assert [Path(p).name for p in report.onnx_files] == ["forward_delegate0.onnx", "forward_delegate1.onnx"]
    assert "validation passed" not in summary.format() and "kept ONNX" in summary.format()


@pytest.mark.parametrize("name", ["bert", "graph_break_mlp"])
def test_small_zoo_models_validate_with_tensorrt_rtx(name: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model, inputs, options = SMALL_ZOO[name]()
    summary = save(
        model.eval(), tmp_path / f"{name}.pte", inputs, engine_builder="tensorrt_rtx", validate=True, **options
    ).summary
    report = summary.validation
    assert report is not None and report.passed, report.format_lines()
    delegates = {c.check for c in report.comparisons if "delegate" in c.check and "ONNX Runtime vs" in c.check}
    assert len(delegates) == len(summary.engines) == (2 if name == "graph_break_mlp" else 1)
    assert any(c.check.startswith("forward: program with ONNX Runtime partitions") for c in report.comparisons)
    # No GPU here: the engines cannot run, and the report says so instead of passing silently.
    assert any("the .pte through the delegate" in reason for reason in report.skipped)
    assert summary.phases.tensorrt_build > 0 and summary.phases.onnx_export > 0


def test_cli_inspect_does_not_import_torch(test_engine_builder, tmp_path: Path) -> None:
    path = save(Elementwise(), tmp_path / "m.pte", (torch.randn(4, 3), torch.randn(4, 3)), engine_builder="test",
                **ELEMENTWISE)
    script = (
        "import sys\n"
        "from executorch_tensorrt.cli import main\n"
        f"code = main(['inspect', {str(path)!r}])\n"
        "assert code == 0, code\n"
        "assert 'torch' not in sys.modules, 'inspect imported torch'\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "image  float32" in result.stdout and "profile 0: batch 1..16 (opt 4)" in result.stdout


def test_validate_without_onnxruntime_names_it_before_exporting(monkeypatch, tmp_path: Path) -> None:
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else find_spec(name, *a))
    target = tmp_path / "m.pte"
    with pytest.raises(ImportError, match="pip install onnxruntime"):
        save(Elementwise(), target, (torch.randn(4, 3), torch.randn(4, 3)), validate=True)
    assert not target.exists()


def test_phases_split_the_lowering_into_its_parts() -> None:
    from executorch_tensorrt.exporter.api import _phases
    from executorch_tensorrt.exporter.delegates import EngineBuildRecord

    records = [EngineBuildRecord("b", "f", 1, 0, 1, seconds=3.0, onnx_seconds=1.0) for _ in range(2)]
    phases = _phases(records, partitioning=2.0, redone=4.0, exporting=0.5, lowering=15.0)
    assert (phases.torch_export, phases.partitioning, phases.onnx_export, phases.tensorrt_build) == (0.5, 2.0, 2.0, 4.0)
    assert (phases.executorch_lowering, phases.fallback_rounds) == (3.0, 4.0)  # 15 - 4 - 2 - 6
    assert phases.total == 15.5 and phases.outside_builder == 11.5


MODEL_FILE = """
import torch
class Model(torch.nn.Module):
    def forward(self, x):
        return torch.relu(x) * 2.0
model = Model()
example_inputs = (torch.randn(2, 3),)
"""


def test_cli_export_validates_and_keeps_the_onnx(test_engine, test_engine_builder, tmp_path: Path, capsys) -> None:
    from executorch_tensorrt.cli import main

    model_file = tmp_path / "model.py"
    model_file.write_text(MODEL_FILE)
    out = tmp_path / "m.pte"
    args = ["export", str(model_file), "-o", str(out), "--engine-builder", "test", "--validate", "--keep-onnx", str(tmp_path)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "validation passed: atol=0.0001 rtol=0.001" in printed and "phases (s): torch export" in printed
    assert "forward: the .pte through the delegate vs eager PyTorch, output 0: max abs 0" in printed
    assert (tmp_path / "forward_delegate0.onnx").is_file() and out.is_file()
    assert main(["export", str(model_file), "-o", str(out), "--atol", "1"]) == 2
    assert "--atol and --rtol set --validate's tolerances; add --validate" in capsys.readouterr().err


def test_save_verbose_prints_the_summary(test_engine_builder, tmp_path: Path, capsys) -> None:
    saved = save(Elementwise(), tmp_path / "m.pte", (torch.randn(4, 3), torch.randn(4, 3)), engine_builder="test",
                 verbose=True, **ELEMENTWISE)
    assert capsys.readouterr().out.strip() == saved.summary.format()
    assert saved.summary.phases.write > 0
    with pytest.raises(TypeError, match="verbose must be a bool"):
        save(Elementwise(), tmp_path / "m.pte", (torch.randn(4, 3),), verbose="yes")
