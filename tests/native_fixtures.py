"""Fixtures for the tests that drive the native delegate: the test engine
loaded into this process, and programs exported once per session."""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Dict

import pytest
import torch

from native_build import build_native_tests, load_test_engine


class AddRelu(torch.nn.Module):
    """forward(x, y) = (relu(x + y), x * 2): two inputs, two outputs."""

    def forward(self, x: torch.Tensor, y: torch.Tensor):
        return torch.relu(x + y), x * 2.0


class SmallMLP(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(8, 16)
        self.fc2 = torch.nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x)))


ADD_RELU_INPUTS = (torch.zeros(2, 3), torch.zeros(2, 3))
MLP_INPUTS = (torch.zeros(2, 8),)


@pytest.fixture(scope="session")
def native_build_dir() -> Path:
    return build_native_tests()


@pytest.fixture(scope="session")
def test_engine() -> ctypes.CDLL:
    """The test engine, registered with the delegate for flavour `test`."""
    return load_test_engine()


@pytest.fixture(scope="session")
def test_programs(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """Programs exported once per session (tests/reliability/export_programs.py):
    two for the test engine (its version and a newer one), one holding a real
    TensorRT-RTX engine built on the CPU, and the simulated-memory programs."""
    from export_programs import export_programs

    return export_programs(tmp_path_factory.mktemp("programs"))


def machine_has_nvidia_gpu() -> bool:
    return Path("/dev/nvidiactl").exists()
