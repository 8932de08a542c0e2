"""The TensorRT runtime double (tests/gpu/trt_double: a test double, NOT
TensorRT) compiles here, and what of it needs no GPU works: plan parsing and
its refusals, the runtime entry points and versions, errors through the
ILogger (double_contract host), and plans from the double's builder.
Its GPU half runs by hand: tests/gpu/bundle.sh, then run_all.sh on a GPU.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

GPU_DIR = Path(__file__).resolve().parent / "gpu"
CUDA = Path(os.environ.get("CUDA_HOME", "/usr/local/cuda"))
sys.path.insert(0, str(GPU_DIR))

from double_builder import DoubleEngineBuilder, plan_text  # noqa: E402

from executorch_tensorrt.exporter.blob import Flavour, ShapeRange, TensorSpec  # noqa: E402
from executorch_tensorrt.exporter.builders import EngineBuildRequest  # noqa: E402
from executorch_tensorrt.exporter.compile_specs import TensorRTCompileSpec  # noqa: E402

pytestmark = pytest.mark.skipif(not (CUDA / "bin" / "nvcc").exists(), reason="needs nvcc (CUDA toolkit)")


@pytest.fixture(scope="module")
def double_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("trt_double")
    subprocess.run(["bash", str(GPU_DIR / "trt_double" / "build.sh"), str(out), "--ptx-only"], check=True)
    return out


@pytest.fixture(scope="module")
def double_lib(double_dir: Path) -> ctypes.CDLL:
    ctypes.CDLL(str(CUDA / "lib64" / "libcudart.so.13"), mode=ctypes.RTLD_GLOBAL)
    lib = ctypes.CDLL(str(double_dir / "libnvinfer_lean.so.11"))
    lib.trt_double_identity.restype = ctypes.c_char_p
    return lib


def describe(lib: ctypes.CDLL, plan: bytes) -> tuple:
    text = ctypes.create_string_buffer(512)
    ok = lib.trt_double_describe_plan(plan, len(plan), text, len(text))
    return ok, text.value.decode()


def test_contract_checks_without_a_gpu(double_dir: Path) -> None:
    result = subprocess.run([str(double_dir / "double_contract"), "host"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("contract_checks=") and last.endswith("failed=0"), last
    assert int(last.split()[0].split("=")[1]) >= 20
    assert "PASS deserialize-garbage-logged" in result.stdout


def test_double_exports_what_the_adapter_links_and_says_it_is_a_double(double_lib: ctypes.CDLL) -> None:
    for symbol in ("createInferRuntime_INTERNAL", "getInferLibMajorVersion", "getInferLibMinorVersion",
                   "getInferLibPatchVersion"):
        assert hasattr(double_lib, symbol), symbol
    assert (double_lib.getInferLibMajorVersion(), double_lib.getInferLibMinorVersion()) == (11, 1)
    assert b"not TensorRT" in double_lib.trt_double_identity()


class _LinearAdd(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x: torch.Tensor, y: torch.Tensor):
        return torch.relu(self.fc(x)) * 2.0, x - y


def _request(streaming: bool = False) -> EngineBuildRequest:
    x, y = torch.randn(2, 4), torch.randn(2, 4)
    module = torch.export.export(_LinearAdd(), (x, y), strict=False).module()
    ranges = (ShapeRange(min=(1, 4), opt=(2, 4), max=(8, 4)), ShapeRange(min=(9, 4), opt=(16, 4), max=(32, 4)))
    inputs = tuple(TensorSpec(name=f"input_{i}", dtype=6, ranges=ranges) for i in range(2))
    outputs = (TensorSpec(name="output_0", dtype=6, ranges=()), TensorSpec(name="output_1", dtype=6, ranges=()))
    return EngineBuildRequest(module=module, example_inputs=(x, y), input_specs=inputs, output_specs=outputs,
                              compile_spec=TensorRTCompileSpec(engine_builder="tensorrt", enable_weight_streaming=streaming))


def test_builder_plans_parse_in_the_double(double_lib: ctypes.CDLL) -> None:
    built = DoubleEngineBuilder(pad_bytes=1000).build(_request(streaming=True))
    assert built.flavour == Flavour.TENSORRT and built.builder_version == "11.1.0" and built.version_compatible
    ok, text = describe(double_lib, built.engine)
    assert ok == 1, text
    # linear, relu, mul, sub; the weight streams (256 + pad 1024), the bias stays resident.
    assert "inputs=2 outputs=2 profiles=2 ops=4 resident_bytes=256 streamable_bytes=1280" in text, text
    plain = plan_text(_request())
    assert "resident_bytes=512 streamable_bytes=0" in describe(double_lib, plain.encode())[1]


@pytest.mark.parametrize(
    "edit, error",
    [
        (lambda p: p.replace("profiles 2", "profiles 3"), "one range per profile"),
        (lambda p: p.replace("op output_1 = sub", "op output_1 = div"), "unknown op 'div'"),
        (lambda p: p.replace("trt-runtime-double-plan 1", "trt-runtime-double-plan 7"), "not a double plan"),
        (lambda p: p.replace("weight w0 resident 4 3", "weight w0 resident 5 3"), "needs 15 values"),
        (lambda p: p + "end now\n", "cannot read 'end now'"),
        (lambda p: p.replace("op ", "end\nop ", 1), "is never assigned"),  # nothing after `end` is read
    ],
)
def test_malformed_plans_are_refused_with_the_reason(double_lib: ctypes.CDLL, edit, error) -> None:  # type: ignore[no-untyped-def]
    plan = edit(plan_text(_request()))
    ok, text = describe(double_lib, plan.encode())
    assert ok == 0 and error in text, text


def test_an_end_line_ends_the_plan_and_what_follows_is_not_read(double_lib: ctypes.CDLL) -> None:
    request = _request()
    plain = DoubleEngineBuilder().build(request).engine
    ended = DoubleEngineBuilder(end_line=True).build(request).engine
    assert ended == plain + b"end\n"
    ok, text = describe(double_lib, plain)
    assert ok == 1, text
    # What a large program holds after its plan: bytes that are no plan lines.
    assert describe(double_lib, ended + b"\x00\xff no plan line\nop output_0 = div input_0\n" * 1000) == (ok, text)
