"""Export time and peak memory on the CPU with TensorRT-RTX.

    python bench/export.py [--out DIR]

Exports, in one process, a transformer encoder block (d_model 512, 8 heads,
sequence 128, batch 1) and a ResNet-18-sized convolutional net (224x224,
batch 1), each to one `.pte` with `engine_builder="tensorrt_rtx"` (TensorRT-RTX
builds on the CPU). Prints each export's wall time and, as its last line:

    export_s_transformer=<float> export_s_resnet18=<float> peak_rss_mb=<float>

peak_rss_mb is the process's peak resident memory (ru_maxrss) after both.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable, Tuple

import torch
from torch import nn


class BasicBlock(nn.Module):
    def __init__(self, channels_in: int, channels_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels_out)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or channels_in != channels_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(channels_in, channels_out, 1, stride, bias=False), nn.BatchNorm2d(channels_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResNet18Sized(nn.Module):
    """ResNet-18's layout: stem, four stages of two basic blocks, classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)
        )
        blocks, channels = [], 64
        for width, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            blocks += [BasicBlock(channels, width, stride), BasicBlock(width, width, 1)]
            channels = width
        self.stages = nn.Sequential(*blocks)
        self.head = nn.Linear(512, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = nn.functional.adaptive_avg_pool2d(self.stages(self.stem(x)), 1)
        return self.head(torch.flatten(features, 1))


class EncoderBlock(nn.Module):
    """Pre-norm transformer encoder block: attention, layer norm, GELU MLP."""

    def __init__(self, d_model: int = 512, heads: int = 8) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attention = nn.MultiheadAttention(d_model, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm1(x)
        x = x + self.attention(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


def timed_export(model: nn.Module, inputs: Tuple[torch.Tensor, ...], path: Path) -> float:
    from executorch_tensorrt import save

    started = time.perf_counter()
    with torch.no_grad():
        save(model.eval(), path, inputs=inputs, engine_builder="tensorrt_rtx")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="keep the .pte files here (default: a temporary directory)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as scratch:
        out = args.out or Path(scratch)
        out.mkdir(parents=True, exist_ok=True)
        cases: Tuple[Tuple[str, Callable[[], nn.Module], Tuple[torch.Tensor, ...]], ...] = (
            ("transformer", EncoderBlock, (torch.randn(1, 128, 512),)),
            ("resnet18", ResNet18Sized, (torch.randn(1, 3, 224, 224),)),
        )
        seconds = {}
        for name, make, inputs in cases:
            seconds[name] = timed_export(make(), inputs, out / f"{name}.pte")
            size_mib = (out / f"{name}.pte").stat().st_size / 2**20
            print(f"{name}: exported in {seconds[name]:.2f} s ({size_mib:.1f} MiB)", flush=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"export_s_transformer={seconds['transformer']:.2f} export_s_resnet18={seconds['resnet18']:.2f} "
        f"peak_rss_mb={peak_mb:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
