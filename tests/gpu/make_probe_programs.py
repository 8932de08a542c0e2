"""Writes the programs tests/gpu/adapter_smoke.sh feeds the TensorRT adapter on
a GPU machine (which has no TensorRT builder and cannot reach PyPI):

- rtx_mlp.pte:     a real TensorRT-RTX engine built here on the CPU;
- trt_bogus.pte:   flavour `tensorrt` at the lean runtime's version, engine
                   bytes that are not an engine (exercises deserialization
                   failure inside real TensorRT);
- trt_device7.pte: the same, targeting CUDA device 7.

Usage: python tests/gpu/make_probe_programs.py OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from executorch_tensorrt.exporter import BuiltEngine, register_engine_builder, save
from executorch_tensorrt.exporter.blob import Flavour


class _Mlp(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.fc(x))


class _NotAnEngineBuilder:
    """Claims to be a version-compatible TensorRT 11.1.0 engine; is not."""

    name = "not_an_engine"

    def build(self, request) -> BuiltEngine:
        return BuiltEngine(
            engine=b"this is not a serialized TensorRT engine" * 8,
            flavour=Flavour.TENSORRT,
            builder_version="11.1.0",
            version_compatible=True,
        )


def main(out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    inputs = (torch.randn(2, 8),)
    register_engine_builder("not_an_engine", _NotAnEngineBuilder())
    save(_Mlp(), out / "rtx_mlp.pte", inputs=inputs, engine_builder="tensorrt_rtx")
    save(_Mlp(), out / "trt_bogus.pte", inputs=inputs, engine_builder="not_an_engine")
    save(_Mlp(), out / "trt_device7.pte", inputs=inputs, engine_builder="not_an_engine", device_index=7)


if __name__ == "__main__":
    main(sys.argv[1])
