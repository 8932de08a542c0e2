"""save()/export() options: partitioning controls, run-time policies baked per
delegate (weight-streaming budget, init policy, output buffers), profiles,
precisions, build options, external weights and the CLI that passes them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest
import torch
from executorch_tensorrt.cli import main
from executorch_tensorrt.exporter import export, inspect_program, save
from executorch_tensorrt.exporter.inspect import format_report
from executorch_tensorrt.exporter.op_selection import normalize_ops
from executorch_tensorrt.exporter.program_policies import default_init_policy, delegate_overrides, split_budget
from executorch_tensorrt.exporter.compile_specs import TensorRTCompileSpec
from test_engine_builder import TestEngineBuilder

Dim = torch.export.Dim


class Elementwise(torch.nn.Module):
    """relu, mul, sub | sigmoid | add: two test-engine blocks when sigmoid stays on the CPU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(x) * 2.0 - 0.5
        return torch.sigmoid(y) + x


class Sandwich(torch.nn.Module):
    """linear | sigmoid | linear: two TensorRT engines when sigmoid stays on the CPU."""

    def __init__(self) -> None:
        super().__init__()
        self.first, self.second = torch.nn.Linear(4, 4), torch.nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(torch.sigmoid(self.first(x)))


X = (torch.randn(2, 3),)
SIGMOID_ON_CPU = {"torch_executed_ops": ["aten.sigmoid"]}


def _specs(pte: bytes) -> List[Dict[str, str]]:
    return [d.compile_specs for d in inspect_program(pte).tensorrt_delegates]


# --- pure decisions ----------------------------------------------------------------


@pytest.mark.parametrize(
    "total, weights, expected",
    [
        (100, [1, 1], [50, 50]),
        (100, [3, 1], [75, 25]),
        (10, [1, 1, 1], [4, 3, 3]),  # remainder to the largest fractions, ties to the first
        (7, [0, 0], [4, 3]),  # no engine reported weights: equal shares
        (0, [5, 9], [0, 0]),
        (2**63 - 1, [1, 2**40], [8388608, 9223372036846387199]),  # no overflow, exact sum
        (5, [], []),
    ],
)
def test_split_budget(total: int, weights: List[int], expected: List[int]) -> None:
    assert split_budget(total, weights) == expected
    assert sum(expected) == (total if weights else 0)


@pytest.mark.parametrize(
    "spec, weights, total, expected",
    [
        (TensorRTCompileSpec(), [10], None, [{"init_policy": "eager"}]),
        (TensorRTCompileSpec(), [10, 10], None, [{"init_policy": "deferred"}] * 2),
        (TensorRTCompileSpec(init_policy="eager"), [1, 1], None, [{"init_policy": "eager"}] * 2),
        (
            TensorRTCompileSpec(init_policy="deferred_context"),
            [3, 1],
            8,
            [
                {"init_policy": "deferred_context", "weight_streaming_budget": "6"},
                {"init_policy": "deferred_context", "weight_streaming_budget": "2"},
            ],
        ),
    ],
)
def test_delegate_overrides(spec: TensorRTCompileSpec, weights: List[int], total: Any, expected: list) -> None:
    assert delegate_overrides(spec, weights, total) == expected
    assert default_init_policy(1) == "eager" and default_init_policy(2) == "deferred"


@pytest.mark.parametrize(
    "weights, engines, total, expected",
    [
        # One delegate of three per-range engines: several engines, so deferred.
        ([10], [3], None, [{"init_policy": "deferred"}]),
        # Each of its 3 engines holds 10 bytes and applies the baked budget:
        # 30 of 40 bytes held, a 30-byte share, 10 per engine; the plain
        # delegate gets the other 10.
        ([10, 10], [3, 1], 40, [
            {"init_policy": "deferred", "weight_streaming_budget": "10"},
            {"init_policy": "deferred", "weight_streaming_budget": "10"},
        ]),
        ([10], [1], 7, [{"init_policy": "eager", "weight_streaming_budget": "7"}]),
    ],
)
def test_delegate_overrides_count_every_engine_of_a_per_range_delegate(
    weights: List[int], engines: List[int], total: Any, expected: list
) -> None:
    assert delegate_overrides(TensorRTCompileSpec(), weights, total, engines) == expected


@pytest.mark.parametrize(
    "ops, expected",
    [
        (["aten.sigmoid"], {("aten::sigmoid", "")}),
        (["aten.add.Tensor", "aten::mul.Scalar"], {("aten::add", "Tensor"), ("aten::mul", "Scalar")}),
        (["torch.ops.aten.relu.default"], {("aten::relu", "default")}),
        ([torch.ops.aten.sigmoid, torch.ops.aten.add.Tensor], {("aten::sigmoid", ""), ("aten::add", "Tensor")}),
    ],
)
def test_torch_executed_ops_names(ops: list, expected: set) -> None:
    assert normalize_ops(ops) == expected


# --- weight-streaming budget (issue 4) ------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"weight_streaming_budget": True}, TypeError, "must be an int number of bytes, got bool"),
        ({"weight_streaming_budget": 1e9}, TypeError, "got float.*not 2e9"),
        ({"weight_streaming_budget": "1000"}, TypeError, "got str"),
        ({"weight_streaming_budget": -1}, ValueError, ">= 0 bytes, got -1"),
        ({"weight_streaming_budget": 2**63}, ValueError, "below 2\\*\\*63"),
        ({"weight_streaming_budget_total": 2.5}, TypeError, "weight_streaming_budget_total must be an int"),
        ({"weight_streaming_budget_total": -3}, ValueError, "weight_streaming_budget_total must be >= 0"),
        (
            {"weight_streaming_budget": 1, "weight_streaming_budget_total": 2},
            ValueError,
            "not both",
        ),
        ({"compile_specs": []}, TypeError, "no raw compile_specs.*weight_streaming_budget=N"),
        ({"init_policy": "lazy"}, ValueError, "init_policy must be one of eager, deferred, deferred_context"),
        ({"output_buffers": "pooled"}, ValueError, "output_buffers must be one of reuse, fresh"),
        ({"min_block_size": 0}, ValueError, "min_block_size must be >= 1"),
        ({"torch_executed_ops": ["sigmoid"]}, ValueError, "'sigmoid' is not an operator name"),
        ({"torch_executed_ops": "aten.sigmoid"}, TypeError, "must be a list of operators"),
        ({"precision": "int8"}, ValueError, "precision must be one of fp32, fp16, bf16"),
        ({"optimization_level": 6}, ValueError, "optimization_level must be <= 5"),
        ({"compute_capabilities": "sm89"}, TypeError, "tuple of names"),
        ({"compute_capabilities": ("89",)}, ValueError, "must look like 'sm89'"),
        ({"optimization_profiles": [{"batch": (4, 2, 8)}]}, ValueError, "min <= opt <= max"),
    ],
)
def test_bad_options_fail_before_export(tmp_path: Path, kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        save(
            Elementwise(), tmp_path / "m.pte", X, engine_builder="tensorrt_rtx", enable_weight_streaming=True, **kwargs
        )
    assert list(tmp_path.iterdir()) == []


def test_budget_in_raw_compile_specs_is_refused_at_preprocess() -> None:
    # The keyword is the only way in; a spec parsed back from bytes is checked as strictly.
    from executorch.exir.backend.compile_spec_schema import CompileSpec

    with pytest.raises(ValueError, match="non-negative decimal"):
        TensorRTCompileSpec.from_compile_specs([CompileSpec("weight_streaming_budget", b"-0")])


def test_budget_per_engine_is_baked_in_every_delegate(test_engine_builder: TestEngineBuilder) -> None:
    pte = export(
        Elementwise(),
        X,
        engine_builder="test",
        enable_weight_streaming=True,
        weight_streaming_budget=2**40,
        **SIGMOID_ON_CPU,
    ).buffer
    assert [s["weight_streaming_budget"] for s in _specs(pte)] == [str(2**40)] * 2
    assert all(s["enable_weight_streaming"] == "1" for s in _specs(pte))


@pytest.mark.parametrize("key", ["weight_streaming_budget", "weight_streaming_budget_total"])
def test_budget_without_weight_streaming_warns_and_is_not_baked(
    test_engine_builder: TestEngineBuilder, key: str
) -> None:
    with pytest.warns(UserWarning, match="without enable_weight_streaming=True; it will be ignored"):
        pte = export(Elementwise(), X, engine_builder="test", **{key: 1000}, **SIGMOID_ON_CPU).buffer
    assert all("weight_streaming_budget" not in s for s in _specs(pte))


# --- init policy (issue 5) and output buffers (issue 6) -----------------------------


def test_init_policy_default_depends_on_the_engine_count(test_engine_builder: TestEngineBuilder) -> None:
    one = export(Elementwise(), X, engine_builder="test", torch_executed_ops=["aten.add"]).buffer
    two = export(Elementwise(), X, engine_builder="test", **SIGMOID_ON_CPU).buffer
    assert [s["init_policy"] for s in _specs(one)] == ["eager"]
    assert [s["init_policy"] for s in _specs(two)] == ["deferred", "deferred"]
    assert all("output_buffers" not in s for s in _specs(two))  # baked only when given


def test_explicit_policies_are_baked_and_shown(test_engine_builder: TestEngineBuilder) -> None:
    pte = export(
        Elementwise(),
        X,
        engine_builder="test",
        init_policy="deferred_context",
        output_buffers="fresh",
        **SIGMOID_ON_CPU,
    ).buffer
    for specs in _specs(pte):
        assert (specs["init_policy"], specs["output_buffers"]) == ("deferred_context", "fresh")
    text = format_report(inspect_program(pte))
    assert text.count("run-time defaults: init_policy=deferred_context, output_buffers=fresh") == 2


def test_baked_policies_load_and_run(test_engine, tmp_path: Path, test_engine_builder: TestEngineBuilder) -> None:
    """The C++ delegate accepts every key the exporter writes."""
    from executorch_tensorrt.runtime import load

    path = save(
        Elementwise(),
        tmp_path / "m.pte",
        X,
        engine_builder="test",
        enable_weight_streaming=True,
        weight_streaming_budget_total=1 << 20,
        output_buffers="reuse",
        optimization_level=2,
        **SIGMOID_ON_CPU,
    )
    (got,) = load(path).forward(X[0])
    torch.testing.assert_close(got, Elementwise()(X[0]))


# --- partitioning ---------------------------------------------------------------------


def test_min_block_size_keeps_small_blocks_on_the_cpu(tmp_path: Path, test_engine_builder: TestEngineBuilder) -> None:
    summary = save(
        Elementwise(), tmp_path / "m.pte", X, engine_builder="test", min_block_size=2, **SIGMOID_ON_CPU
    ).summary
    (method,) = inspect_program(tmp_path / "m.pte").methods
    assert method.steps == ["delegate 0", "aten::sigmoid.out", "aten::add.out"]
    reasons = {node.op: node.reason for node in summary.cpu_nodes}
    assert reasons["aten::sigmoid.default"] == "kept on the CPU by torch_executed_ops"
    assert "min_block_size=2" in reasons["aten::add.Tensor"]
    assert len(summary.engines) == 1 and "min_block_size=2" in summary.format()


def test_everything_excluded_names_each_node(test_engine_builder: TestEngineBuilder) -> None:
    with pytest.raises(
        ValueError, match=r"nothing to delegate(.|\n)*aten_relu_default \(aten::relu.default\): kept on the CPU"
    ):
        export(
            Elementwise(),
            X,
            engine_builder="test",
            torch_executed_ops=["aten.relu", "aten.mul", "aten.sub", "aten.add"],
        )


def test_rtx_parser_refusal_moves_only_that_op_to_the_cpu() -> None:
    class Mixed(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(4, 4)

        def forward(self, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor):
            return torch.relu(self.linear(x)), torch.bitwise_and(a, b) + 1

    args = (torch.randn(2, 4), torch.tensor([1, 2]), torch.tensor([3, 1]))
    report = inspect_program(export(Mixed(), args, engine_builder="tensorrt_rtx").buffer)
    (method,) = report.methods
    assert "aten::bitwise_and.Tensor_out" in method.operator_names
    assert len(report.tensorrt_delegates) >= 1


# --- dynamic shapes and profiles ------------------------------------------------------


def test_unknown_profile_dimension_names_the_known_ones(test_engine_builder: TestEngineBuilder) -> None:
    with pytest.raises(ValueError, match=r"names 'rows'.*known: batch, s\d+"):
        export(
            Elementwise(),
            (torch.randn(4, 3),),
            engine_builder="test",
            dynamic_shapes=({0: Dim("batch", max=8)},),
            optimization_profiles=[{"rows": (1, 2, 3)}],
        )


def test_default_profile_comes_from_the_dim_bounds(
    test_engine, tmp_path: Path, test_engine_builder: TestEngineBuilder
) -> None:
    from executorch_tensorrt.runtime import load

    batch = Dim("batch", min=1, max=8)
    manager = export(Elementwise(), (torch.randn(4, 3),), engine_builder="test", dynamic_shapes=({0: batch},))
    first, _ = inspect_program(manager.buffer).tensorrt_delegates  # the test engine has no sigmoid: two engines
    (tensor,) = first.engine.inputs  # type: ignore[union-attr]
    assert tensor.shapes == ["[1, 3]..[8, 3] (opt [4, 3])"]  # the Dim's bounds, opt = the example's size
    (tmp_path / "m.pte").write_bytes(manager.buffer)
    program = load(tmp_path / "m.pte")
    for size in (1, 8):
        x = torch.randn(size, 3)
        torch.testing.assert_close(program.forward(x)[0], Elementwise()(x))

    # An ExportedProgram keeps torch.export's range, which starts at 2 (0/1 specialization).
    exported = torch.export.export(Elementwise(), (torch.randn(4, 3),), dynamic_shapes=({0: batch},))
    first, _ = inspect_program(export(exported, engine_builder="test").buffer).tensorrt_delegates
    assert first.engine.inputs[0].shapes == ["[2, 3]..[8, 3] (opt [4, 3])"]  # type: ignore[union-attr]


# --- precisions and build options (TensorRT-RTX) --------------------------------------


@pytest.mark.parametrize("precision, dtype", [("fp16", "float16"), ("bf16", "bfloat16")])
def test_rtx_precision_converts_the_model(precision: str, dtype: str) -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.GELU())
    pte = export(model, (torch.randn(2, 4),), engine_builder="tensorrt_rtx", precision=precision).buffer
    (delegate,) = inspect_program(pte).tensorrt_delegates
    assert [t.dtype for t in delegate.engine.inputs + delegate.engine.outputs] == [dtype, dtype]  # type: ignore[union-attr]
    assert delegate.compile_specs["precision"] == precision
    assert next(model.parameters()).dtype == torch.float32  # the caller's model is untouched


def test_precision_needs_a_module() -> None:
    exported = torch.export.export(torch.nn.ReLU(), (torch.randn(2),))
    with pytest.raises(ValueError, match="precision='fp16' converts an nn.Module"):
        export(exported, engine_builder="tensorrt_rtx", precision="fp16")


def test_rtx_build_options_and_timing_cache(tmp_path: Path) -> None:
    cache = tmp_path / "timing.cache"
    options: Dict[str, Any] = dict(
        engine_builder="tensorrt_rtx",
        optimization_level=1,
        timing_cache=str(cache),
        compute_capabilities=("sm89", "sm120"),
        workspace_bytes=1 << 24,
    )
    model = torch.nn.Linear(8, 8)
    export(model, (torch.randn(1, 8),), **options)
    assert cache.is_file() and cache.stat().st_size > 0
    pte = export(model, (torch.randn(1, 8),), **options).buffer  # reads the cache back
    specs = _specs(pte)[0]
    assert (specs["optimization_level"], specs["timing_cache"], specs["compute_capabilities"]) == (
        "1",
        str(cache),
        "sm89,sm120",
    )


def test_rtx_unknown_compute_capability_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="'sm90' is not a tensorrt_rtx .* target; known: .*sm89"):
        export(torch.nn.ReLU(), (torch.randn(2),), engine_builder="tensorrt_rtx", compute_capabilities=("sm90",))


def test_rtx_int_and_bool_io() -> None:
    class Io(torch.nn.Module):
        def forward(self, ids: torch.Tensor, mask: torch.Tensor, x: torch.Tensor):
            return ids * 2, mask & (x > 0), x.to(torch.int32) + 1

    args = (torch.tensor([1, 2, 3]), torch.tensor([True, False, True]), torch.randn(3))
    (delegate,) = inspect_program(export(Io(), args, engine_builder="tensorrt_rtx").buffer).tensorrt_delegates
    assert sorted(t.dtype for t in delegate.engine.inputs) == ["bool", "float32", "int64"]  # type: ignore[union-attr]
    assert sorted(t.dtype for t in delegate.engine.outputs) == ["bool", "int32", "int64"]  # type: ignore[union-attr]


# --- external weights -----------------------------------------------------------------


def test_external_weights_ptd_runs(test_engine, tmp_path: Path, test_engine_builder: TestEngineBuilder) -> None:
    class Affine(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(8, 8)  # stays on the CPU: the test engine has no matmul

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.linear(x)) + 1.0

    model = Affine()
    saved = save(model, tmp_path / "m.pte", (torch.randn(2, 8),), engine_builder="test", external_weights=True)
    target = saved.path
    assert saved.external_data == (tmp_path / "m.ptd",)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.ptd", "m.pte"]
    assert (tmp_path / "m.ptd").stat().st_size >= 8 * 8 * 4  # the linear's weights live there

    from executorch.runtime import Runtime

    method = Runtime.get().load_program(target, data_path=tmp_path / "m.ptd").load_method("forward")
    x = torch.randn(2, 8)
    (got,) = method.execute([x])
    torch.testing.assert_close(got, model(x))


# --- CLI ------------------------------------------------------------------------------


def test_cli_export_from_a_module_path_with_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, test_engine_builder: TestEngineBuilder
) -> None:
    package = tmp_path / "cli_models_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "elementwise.py").write_text(
        "import torch\n"
        "class M(torch.nn.Module):\n"
        "    def forward(self, x):\n"
        "        return torch.sigmoid(torch.relu(x) * 2.0) + x\n"
        "model = M()\n"
        "example_inputs = (torch.randn(4, 3),)\n"
        "dynamic_shapes = ({0: torch.export.Dim('batch', max=16)},)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "m.pte"
    argv = [
        "export",
        "cli_models_pkg.elementwise",
        "-o",
        str(out),
        "--engine-builder",
        "test",
        "--torch-executed-op",
        "aten.sigmoid",
        "--profile",
        "batch=1:2:4",
        "--profile",
        "batch=5:8:16",
        "--init-policy",
        "eager",
        "--output-buffers",
        "fresh",
    ]
    assert main(argv) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "2 TensorRT engine(s), 1 operator(s) on the CPU" in printed
    assert "aten::sigmoid.default x1: kept on the CPU by torch_executed_ops" in printed
    report = inspect_program(out)
    assert [d.engine.num_profiles for d in report.tensorrt_delegates] == [2, 2]  # type: ignore[union-attr]
    assert all(d.compile_specs["init_policy"] == "eager" for d in report.tensorrt_delegates)

    assert main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "partition (execution order): delegate 0 -> CPU[aten::sigmoid.out] -> delegate 1" in text
    assert "run-time defaults: init_policy=eager, output_buffers=fresh" in text


def test_cli_bad_profile_and_missing_module(tmp_path: Path, capsys: Any) -> None:
    assert main(["export", "no_such_module_xyz", "-o", str(tmp_path / "o.pte")]) == 2
    assert "importing module no_such_module_xyz failed" in capsys.readouterr().err
    model = tmp_path / "m.py"
    model.write_text("import torch\nmodel = torch.nn.ReLU()\nexample_inputs = (torch.randn(2),)\n")
    assert main(["export", str(model), "-o", str(tmp_path / "o.pte"), "--profile", "batch=1:2"]) == 2
    assert "write DIM=MIN:OPT:MAX" in capsys.readouterr().err
    assert not (tmp_path / "o.pte").exists()


def test_rtx_progress_names_each_engine_on_a_tty(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    from executorch_tensorrt.exporter.builders import trt_logging

    tty = Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    # These builds take well under the second after which progress shows.
    monkeypatch.setattr(trt_logging, "SHOW_PROGRESS_AFTER_SECONDS", 0.0)

    export(Sandwich(), (torch.randn(1, 4),), engine_builder="tensorrt_rtx", **SIGMOID_ON_CPU)
    drawn = tty.getvalue()
    assert "TensorRT engine 1/2" in drawn and "TensorRT engine 2/2" in drawn


def test_rtx_operator_without_onnx_conversion_is_cut_out(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """When the ONNX exporter cannot translate an operator, the support query
    marks its nodes, turns them into probe inputs, and asks about the rest."""
    from executorch_tensorrt.exporter.builders import node_support

    real_export = node_support.export_onnx
    seen: List[int] = []

    def no_sigmoid(module: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
        graph = module.graph  # type: ignore[union-attr]
        calls = [n for n in graph.nodes if n.op == "call_function" and "sigmoid" in str(n.target)]
        seen.append(len(calls))
        if calls:
            raise RuntimeError(
                "converting failed: Error when translating node %sigmoid : [num_users=1] = "
                "call_function[target=torch.ops.aten.sigmoid.default](args = (%x,), kwargs = {})"
            )
        return real_export(module, *args, **kwargs)

    monkeypatch.setattr(node_support, "export_onnx", no_sigmoid)

    summary = save(Sandwich(), tmp_path / "m.pte", (torch.randn(1, 4),), engine_builder="tensorrt_rtx").summary
    assert seen == [1, 0]  # asked once with the sigmoid, once with it cut out
    assert [(n.op, n.reason) for n in summary.cpu_nodes] == [
        ("aten::sigmoid.default", "the ONNX exporter has no conversion for aten::sigmoid.default")
    ]
    assert len(summary.engines) == 2


def test_a_refused_tuple_element_refuses_its_producer() -> None:
    import operator

    from executorch.exir import to_edge
    from executorch_tensorrt.exporter import register_engine_builder, unregister_engine_builder
    from executorch_tensorrt.exporter.partitioner import _refusals

    class RefuseTupleElements:
        name = "refuse_tuple_elements"

        def unsupported_nodes(self, program: Any, nodes: Any, spec: Any) -> Dict[str, str]:
            return {n.name: "refused on purpose" for n in nodes if n.target is operator.getitem}

        def build(self, request: Any) -> Any:  # pragma: no cover - partitioning only
            raise AssertionError

    program = to_edge(torch.export.export(torch.nn.LayerNorm(4), (torch.randn(2, 4),))).exported_program()
    candidates = [n for n in program.graph.nodes if n.op == "call_function"]
    register_engine_builder("refuse_tuple_elements", RefuseTupleElements())
    try:
        spec = TensorRTCompileSpec(engine_builder="refuse_tuple_elements")
        refused = {n.name: reason for n, reason in _refusals(program, candidates, spec, frozenset(), {}).items()}
    finally:
        unregister_engine_builder("refuse_tuple_elements")
    producer = next(n.name for n in candidates if "layer_norm" in n.name)
    assert refused[producer] == "refused on purpose"
    assert all(reason == "refused on purpose" for reason in refused.values())
