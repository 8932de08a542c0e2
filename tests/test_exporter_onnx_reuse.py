"""Builds take their partition's ONNX out of the support query's (one ONNX export per program)."""

from __future__ import annotations

from typing import Dict

import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from executorch_tensorrt.exporter.builders.onnx_slice import slice_model  # noqa: E402


def _chain() -> "onnx.ModelProto":
    """x -> Relu -> a -> Add(w) -> b -> Neg -> c, with a, b, c all graph outputs (as the probe has them)."""
    info = lambda name: helper.make_tensor_value_info(name, TensorProto.FLOAT, [2])  # noqa: E731
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="relu"),
        helper.make_node("Add", ["a", "w"], ["b"], name="add"),
        helper.make_node("Neg", ["b"], ["c"], name="neg"),
    ]
    weight = numpy_helper.from_array(np.array([1.0, 2.0], dtype=np.float32), name="w")
    graph = helper.make_graph(nodes, "probe", [info("x")], [info("a"), info("b"), info("c")], [weight])
    return helper.make_model(graph)


def _run(model: "onnx.ModelProto", feeds: Dict[str, np.ndarray]) -> list:
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def test_a_cut_from_an_inner_value_computes_the_same() -> None:
    cut = slice_model(_chain(), [("a", "input_0")], [("c", "output_0")])
    assert cut is not None
    assert [v.name for v in cut.graph.input] == ["input_0"]
    assert [v.name for v in cut.graph.output] == ["output_0"]
    assert "relu" not in [n.name for n in cut.graph.node]  # before the cut's input
    (out,) = _run(cut, {"input_0": np.array([1.0, -1.0], dtype=np.float32)})
    np.testing.assert_array_equal(out, [-2.0, -1.0])


def test_a_cut_with_a_constant_for_a_graph_input() -> None:
    # The probe fed x as an input; the build's cut holds its real value.
    cut = slice_model(_chain(), [], [("b", "output_0")], {"x": torch.tensor([3.0, -3.0])})
    assert cut is not None and not cut.graph.input
    (out,) = _run(cut, {})
    np.testing.assert_array_equal(out, [4.0, 2.0])


@pytest.mark.parametrize(
    "inputs, outputs",
    [
        ([], [("c", "output_0")]),  # needs x, which the cut is not given
        ([("a", "b")], [("c", "output_0")]),  # the new name clashes with a value of the model
        ([("nothing", "input_0")], [("c", "output_0")]),  # no such value
    ],
)
def test_what_cannot_be_cut_exactly_is_none(inputs: list, outputs: list) -> None:
    assert slice_model(_chain(), inputs, outputs) is None


def test_the_build_reuses_the_support_query_onnx(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tensorrt_rtx")
    from executorch_tensorrt.exporter import export, validate
    from executorch_tensorrt.exporter.builders import tensorrt

    converted = []
    fresh = tensorrt.request_onnx
    for module in (tensorrt, validate):  # the build's and validate's own conversions
        monkeypatch.setattr(module, "request_onnx", lambda request: converted.append(request) or fresh(request))

    class TwoParts(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.first = torch.nn.Linear(4, 4)
            self.second = torch.nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.second(torch.relu(self.first(x)) * 0.5)

    # relu on the CPU: two partitions, the second fed by a CPU result; validate
    # checks the program (with the partitions' ONNX) against eager PyTorch.
    result = export(
        TwoParts(), (torch.randn(2, 4),), engine_builder="tensorrt_rtx", torch_executed_ops=["aten.relu"],
        validate=True,
    )
    assert len(result.summary.engines) == 2
    assert converted == []  # both partitions cut out of the support query's ONNX, for the build and the check
    assert result.summary.validation is not None and result.summary.validation.passed


def test_a_cut_takes_initializers_held_outside_the_model() -> None:
    from executorch_tensorrt.exporter.builders.onnx_slice import slice_maker

    probe = _chain()
    del probe.graph.initializer[:]  # as the support probe keeps it: w held as a tensor, not in the model
    made = []
    held = {"w": lambda: made.append("w") or numpy_helper.from_array(np.array([1.0, 2.0], dtype=np.float32), name="w")}
    make = slice_maker(probe, [("a", "input_0")], [("c", "output_0")], held=held)
    assert make is not None and made == []  # made with each cut, not before
    cut = make()
    assert made == ["w"] and [t.name for t in cut.graph.initializer] == ["w"]
    (out,) = _run(cut, {"input_0": np.array([1.0, -1.0], dtype=np.float32)})
    np.testing.assert_array_equal(out, [-2.0, -1.0])


def test_the_support_probe_keeps_no_copy_of_the_weights() -> None:
    trt = pytest.importorskip("tensorrt_rtx")
    from executorch_tensorrt.exporter.builders.node_support import unsupported_by_onnx_parser
    from executorch_tensorrt.exporter.builders.trt_logging import make_logger

    linear = torch.nn.Linear(4, 3)
    program = torch.export.export(linear, (torch.randn(2, 4),), strict=False)
    nodes = [n for n in program.graph.nodes if n.op == "call_function"]
    reasons, probe = unsupported_by_onnx_parser(trt, make_logger(trt, quiet=True), program, nodes)
    assert reasons == {} and probe is not None
    assert len(probe.model.graph.initializer) == 0  # taken out once the parser had them
    held = {name: np.asarray(tensor.numpy()) for name, tensor in probe.initializers.items()}
    assert any(np.array_equal(value, linear.weight.detach().numpy()) for value in held.values())


def test_serialized_onnx_is_none_past_the_in_memory_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from executorch_tensorrt.exporter.builders import tensorrt

    model = _chain()
    assert tensorrt.serialized_onnx(model) == model.SerializeToString()
    # 8 bytes of initializers: refused from their size, before any serialization
    monkeypatch.setattr(tensorrt, "MAX_IN_MEMORY_ONNX_BYTES", 8)
    assert tensorrt.serialized_onnx(model) is None
    # initializers under the limit, the whole model over it
    monkeypatch.setattr(tensorrt, "MAX_IN_MEMORY_ONNX_BYTES", 9)
    assert tensorrt.serialized_onnx(model) is None
