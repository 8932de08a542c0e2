"""Builder-refused operators fall back to the CPU (bounded), and every
operator left on the CPU has a kernel where the program runs (issue 16)."""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest
import torch
from executorch_tensorrt.cli import main
from executorch_tensorrt.exporter import api, export, inspect_program, save
from executorch_tensorrt.exporter.builders import BuiltEngine, EngineBuildError, EngineBuildRequest
from executorch_tensorrt.exporter.cpu_kernels import missing_kernels, out_variant_name, runtime_kernels
from memory_programs import registered
from test_engine_builder import TestEngineBuilder


class NegInTheMiddle(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(x) * 2.0
        z = -y  # the op the refusing builder will not build
        return z + 1.0


class RefusesNeg(TestEngineBuilder):
    """The test engine, refusing at build time any graph holding a neg (after
    its support query said yes), naming the node as TensorRT names layers."""

    __test__ = False

    def __init__(self, name_the_node: bool = True) -> None:
        self.name_the_node = name_the_node
        self.builds: List[List[str]] = []

    def build(self, request: EngineBuildRequest) -> BuiltEngine:
        nodes = [n for n in request.module.graph.nodes if n.op == "call_function"]  # type: ignore[union-attr]
        self.builds.append([n.name for n in nodes])
        refused = tuple(n.name for n in nodes if "neg" in n.name)
        if refused:
            raise EngineBuildError(
                f"test builder: layer {refused[0]} is too big", refused if self.name_the_node else (), "neg too big"
            )
        return super().build(request)


def test_refused_node_moves_to_the_cpu_and_the_rest_is_rebuilt(tmp_path: Path, test_engine) -> None:
    from executorch_tensorrt.runtime import load

    builder = RefusesNeg()
    with registered("refuses_neg", builder):
        saved = save(NegInTheMiddle(), tmp_path / "m.pte", (torch.randn(2, 3),), engine_builder="refuses_neg")
    (moved,) = saved.summary.fallbacks
    assert moved.op == "aten::neg.default" and "neg too big" in moved.reason
    assert "test_export_fallback.py:" in moved.source and "z = -y" in moved.source
    assert f"moved to the CPU: aten::neg.default at {moved.source}" in saved.summary.format()
    (method,) = inspect_program(saved).methods
    assert method.steps == ["delegate 0", "aten::neg.out", "delegate 1"]
    assert len(builder.builds) == 1 + 2  # the refused build, then the two partitions around neg
    x = torch.randn(2, 3)
    (got,) = load(saved).forward(x)
    torch.testing.assert_close(got, NegInTheMiddle()(x))


def test_strict_turns_a_fallback_into_an_error(tmp_path: Path) -> None:
    with registered("refuses_neg", RefusesNeg()):
        with pytest.raises(ValueError, match=r"strict=True: TensorRT refused to build a partition \(it blames aten_neg"):
            save(NegInTheMiddle(), tmp_path / "m.pte", (torch.randn(2, 3),), engine_builder="refuses_neg", strict=True)
        with pytest.raises(TypeError, match="strict must be a bool"):
            export(NegInTheMiddle(), (torch.randn(2, 3),), engine_builder="refuses_neg", strict="yes")
    assert list(tmp_path.iterdir()) == []


def test_cli_strict(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    model = tmp_path / "neg.py"
    model.write_text(
        "import torch\n"
        "class M(torch.nn.Module):\n"
        "    def forward(self, x):\n"
        "        return -(torch.relu(x) * 2.0) + 1.0\n"
        "model = M()\n"
        "example_inputs = (torch.randn(2, 3),)\n"
    )
    argv = ["export", str(model), "-o", str(tmp_path / "m.pte"), "--engine-builder", "refuses_neg"]
    with registered("refuses_neg", RefusesNeg()):
        assert main([*argv, "--strict"]) == 2
        assert "strict=True" in capsys.readouterr().err
        assert main(argv) == 0
    assert "moved to the CPU: aten::neg.default" in capsys.readouterr().out


def test_a_refusal_naming_no_node_is_reported_as_is(tmp_path: Path) -> None:
    with registered("refuses_neg", RefusesNeg(name_the_node=False)):
        with pytest.raises(EngineBuildError, match="layer aten_neg_default is too big") as caught:
            export(NegInTheMiddle(), (torch.randn(2, 3),), engine_builder="refuses_neg")
    assert "aten_neg_default" in caught.value.partition


def test_fallbacks_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    class BlamesEverything(TestEngineBuilder):
        __test__ = False

        def build(self, request: EngineBuildRequest) -> BuiltEngine:
            first = next(n.name for n in request.module.graph.nodes if n.op == "call_function")  # type: ignore
            raise EngineBuildError("no", (first,), "no")

    monkeypatch.setattr(api, "MAX_BUILD_FALLBACKS", 2)
    chain = torch.nn.Sequential(*[torch.nn.ReLU() for _ in range(6)])
    with registered("blames", BlamesEverything()):
        with pytest.raises(RuntimeError, match="still refused the program after moving 3 operator"):
            export(chain, (torch.randn(2),), engine_builder="blames")


# --- TensorRT-RTX on the CPU: what its builder refuses --------------------------------


class TopK(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values, _ = torch.topk(torch.relu(x), 4000)  # TensorRT's TopK takes K <= 3840
        return values * 2.0


def test_rtx_topk_over_the_limit_falls_back_with_tensorrts_reason(tmp_path: Path) -> None:
    saved = save(TopK(), tmp_path / "m.pte", (torch.randn(1, 5000),), engine_builder="tensorrt_rtx")
    (moved,) = saved.summary.fallbacks
    assert moved.op == "aten::topk.default"
    assert "K exceeds the maximum value allowed (3840)" in moved.reason
    assert "torch.topk(torch.relu(x), 4000)" in moved.source
    (method,) = inspect_program(saved).methods
    assert method.steps == ["delegate 0", "aten::topk.values", "delegate 1"]
    with pytest.raises(ValueError, match="strict=True.*aten_topk_default"):
        export(TopK(), (torch.randn(1, 5000),), engine_builder="tensorrt_rtx", strict=True)


# --- every CPU operator has a kernel -------------------------------------------------


class ArgSort(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.argsort(torch.relu(x), dim=-1).to(torch.float32) + x


def test_runtime_kernels_are_executorchs_out_variants() -> None:
    kernels = runtime_kernels()
    assert {"aten::add.out", "aten::sigmoid.out", "aten::topk.values"} <= kernels
    assert "aten::sort.values" not in kernels  # ExecuTorch 1.5.1 has no sort kernel
    assert out_variant_name(torch.ops.aten.sort.default) == "aten::sort.values"


def test_a_cpu_op_without_a_kernel_fails_the_export_naming_it(tmp_path: Path, test_engine_builder) -> None:
    with pytest.raises(ValueError, match=r"would not load(.|\n)*aten::sort.default \(aten_sort_default at .*"
                       r"test_export_fallback.py:\d+: return torch.argsort(.|\n)*no kernel aten::sort.values"
                       r"(.|\n)*remove it from torch_executed_ops"):
        save(ArgSort(), tmp_path / "m.pte", (torch.randn(2, 8),), engine_builder="test",
             torch_executed_ops=["aten.sort"])
    assert list(tmp_path.iterdir()) == []


def test_a_kernel_less_op_kept_off_only_by_min_block_size_stays_on_tensorrt(
    monkeypatch: pytest.MonkeyPatch, test_engine_builder
) -> None:
    class Model(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(torch.relu(x)) * 2.0 + 1.0

    # As if the runtime had no relu kernel: the 1-op block before the sigmoid goes to TensorRT anyway.
    monkeypatch.setattr(api, "runtime_kernels", lambda: runtime_kernels() - {"aten::relu.out"})
    pte = export(Model(), (torch.randn(2, 3),), engine_builder="test", min_block_size=2).buffer
    (method,) = inspect_program(pte).methods
    assert method.steps == ["delegate 0", "aten::sigmoid.out", "delegate 1"]


def test_missing_kernels_is_a_pure_check() -> None:
    graph = torch.fx.symbolic_trace(lambda x: torch.ops.aten.sort.default(torch.ops.aten.relu.default(x))).graph
    found = missing_kernels([graph], frozenset({"aten::relu.out"}))
    assert [(m.op, m.kernel) for m in found] == [("aten::sort.default", "aten::sort.values")]


@torch.library.custom_op("xflow_test::scale", mutates_args=())
def _scale(x: torch.Tensor) -> torch.Tensor:
    return x * 3.0


@_scale.register_fake
def _(x: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x)


def test_a_custom_op_without_out_variant_says_what_to_register(test_engine_builder) -> None:
    class Custom(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.ops.xflow_test.scale(torch.relu(x)) + 1.0

    with pytest.raises(ValueError, match=r"xflow_test::scale(.|\n)*no out variant(.|\n)*"
                       r'custom_op\("xflow_test::scale.out", mutates_args=\("out",\)\)'):
        export(Custom(), (torch.randn(2, 3),), engine_builder="test")


@pytest.mark.parametrize("length, culprit", [(1, 1), (2, 1), (2, 2), (7, 1), (7, 4), (7, 7), (100, 63)])
def test_bisection_finds_the_first_failing_prefix_in_log_builds(length: int, culprit: int) -> None:
    from executorch_tensorrt.exporter.builders.build_failures import first_failing_prefix

    builds: List[int] = []

    def fails(prefix: int) -> bool:
        builds.append(prefix)
        return prefix >= culprit

    assert first_failing_prefix(length, fails) == culprit
    assert len(builds) <= max(1, (length - 1).bit_length())


def test_rtx_bisection_names_the_node_when_tensorrt_names_none() -> None:
    import tensorrt_rtx
    from executorch_tensorrt.exporter.blob import ShapeRange, TensorSpec
    from executorch_tensorrt.exporter.builders.tensorrt import TensorRTEngineBuilder
    from executorch_tensorrt.exporter.compile_specs import TensorRTCompileSpec

    class Chain(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            values, _ = torch.topk(torch.relu(x) * 2.0, 4000)
            return values + 1.0

    onnx_program = torch.onnx.export(Chain(), (torch.randn(1, 5000),), dynamo=True, input_names=["input_0"])
    inputs = (TensorSpec("input_0", 6, (ShapeRange((1, 5000), (1, 5000), (1, 5000)),)),)
    builder = TensorRTEngineBuilder("tensorrt_rtx")
    culprit = builder.first_failing_node(tensorrt_rtx, TensorRTCompileSpec(), [], [], onnx_program.model_proto, inputs)
    assert culprit is not None and culprit.op_type == "TopK"
