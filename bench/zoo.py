"""Real architectures written from their papers' configs, with random weights.

No weights are downloaded and nothing outside torch is needed, so the same
models serve ``bench/models.py`` and the test command (small configs). Each
entry of ``ZOO`` builds ``(model, example_inputs, export_options)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, Tuple

import torch
from torch import nn

from executorch_tensorrt.option_table import KEY_TORCH_EXECUTED_OPS

Built = Tuple[nn.Module, Tuple[torch.Tensor, ...], Dict[str, Any]]


# --- vision: ResNet-18 (He et al. 2015) --------------------------------------------


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


class ResNet(nn.Module):
    """Stem, four stages of basic blocks, classifier (ResNet-18: widths 64..512, 2 blocks each)."""

    def __init__(self, widths: Tuple[int, ...] = (64, 128, 256, 512), blocks: int = 2, classes: int = 1000) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, widths[0], 7, 2, 3, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(), nn.MaxPool2d(3, 2, 1)
        )
        layers, channels = [], widths[0]
        for index, width in enumerate(widths):
            for block in range(blocks):
                layers.append(BasicBlock(channels, width, 2 if index and not block else 1))
                channels = width
        self.stages = nn.Sequential(*layers)
        self.head = nn.Linear(channels, classes)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        features = nn.functional.adaptive_avg_pool2d(self.stages(self.stem(image)), 1)
        return self.head(torch.flatten(features, 1))


# --- transformers -----------------------------------------------------------------


@dataclass(frozen=True)
class TransformerConfig:
    hidden: int
    layers: int
    heads: int
    vocab: int = 30522
    positions: int = 512


class Attention(nn.Module):
    def __init__(self, hidden: int, heads: int, causal: bool = False) -> None:
        super().__init__()
        self.heads, self.causal = heads, causal
        self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))
        self.out = nn.Linear(hidden, hidden)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, hidden = x.shape
        return x.view(batch, length, self.heads, hidden // self.heads).transpose(1, 2)

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None = None, bias: torch.Tensor | None = None) -> torch.Tensor:
        source = x if memory is None else memory
        q, k, v = self._split(self.query(x)), self._split(self.key(source)), self._split(self.value(source))
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        if bias is not None:
            scores = scores + bias
        if self.causal:
            length = x.shape[1]
            mask = torch.ones(length, length, dtype=torch.bool, device=x.device).tril()
            scores = scores.masked_fill(~mask, float("-inf"))
        context = torch.softmax(scores, dim=-1) @ v
        return self.out(context.transpose(1, 2).flatten(2))


class EncoderLayer(nn.Module):
    """Post-norm (BERT) or pre-norm (ViT, GPT-2) attention + GELU MLP."""

    def __init__(self, hidden: int, heads: int, pre_norm: bool, causal: bool = False) -> None:
        super().__init__()
        self.pre_norm = pre_norm
        self.attention = Attention(hidden, heads, causal)
        self.norm1, self.norm2 = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
        self.mlp = nn.Sequential(nn.Linear(hidden, 4 * hidden), nn.GELU(), nn.Linear(4 * hidden, hidden))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre_norm:
            x = x + self.attention(self.norm1(x))
            return x + self.mlp(self.norm2(x))
        x = self.norm1(x + self.attention(x))
        return self.norm2(x + self.mlp(x))


class Bert(nn.Module):
    """BERT encoder (Devlin et al. 2018): token + position + segment embeddings, post-norm layers, pooler."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.tokens = nn.Embedding(config.vocab, config.hidden)
        self.positions = nn.Embedding(config.positions, config.hidden)
        self.segments = nn.Embedding(2, config.hidden)
        self.norm = nn.LayerNorm(config.hidden)
        self.layers = nn.Sequential(*(EncoderLayer(config.hidden, config.heads, False) for _ in range(config.layers)))
        self.pooler = nn.Linear(config.hidden, config.hidden)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        x = self.norm(self.tokens(input_ids) + self.positions(positions) + self.segments(token_type_ids))
        hidden = self.layers(x)
        return hidden, torch.tanh(self.pooler(hidden[:, 0]))


class Gpt2(nn.Module):
    """GPT-2 decoder (Radford et al. 2019): causal pre-norm layers, logits through the tied embedding."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.tokens = nn.Embedding(config.vocab, config.hidden)
        self.positions = nn.Embedding(config.positions, config.hidden)
        self.layers = nn.Sequential(
            *(EncoderLayer(config.hidden, config.heads, True, causal=True) for _ in range(config.layers))
        )
        self.norm = nn.LayerNorm(config.hidden)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        hidden = self.norm(self.layers(self.tokens(input_ids) + self.positions(positions)))
        return hidden @ self.tokens.weight.t()


class VisionTransformer(nn.Module):
    """ViT (Dosovitskiy et al. 2020): patch embedding, class token, pre-norm encoder, head."""

    def __init__(self, config: TransformerConfig, image: int, patch: int, classes: int = 1000) -> None:
        super().__init__()
        self.patches = nn.Conv2d(3, config.hidden, patch, patch)
        self.cls = nn.Parameter(torch.randn(1, 1, config.hidden) * 0.02)
        self.positions = nn.Parameter(torch.randn(1, (image // patch) ** 2 + 1, config.hidden) * 0.02)
        self.layers = nn.Sequential(*(EncoderLayer(config.hidden, config.heads, True) for _ in range(config.layers)))
        self.norm = nn.LayerNorm(config.hidden)
        self.head = nn.Linear(config.hidden, classes)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.patches(image).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.positions
        return self.head(self.norm(self.layers(x))[:, 0])


class T5LayerNorm(nn.Module):
    """T5's RMS norm: scale only, no mean subtraction, no bias."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)


class T5Block(nn.Module):
    def __init__(self, hidden: int, heads: int, decoder: bool) -> None:
        super().__init__()
        self.self_attention = Attention(hidden, heads, causal=decoder)
        self.norm1 = T5LayerNorm(hidden)
        self.cross = Attention(hidden, heads) if decoder else None
        self.norm_cross = T5LayerNorm(hidden) if decoder else None
        self.norm2 = T5LayerNorm(hidden)
        self.mlp = nn.Sequential(nn.Linear(hidden, 4 * hidden, bias=False), nn.ReLU(), nn.Linear(4 * hidden, hidden, bias=False))

    def forward(self, x: torch.Tensor, bias: torch.Tensor, memory: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.self_attention(self.norm1(x), bias=bias)
        if self.cross is not None and self.norm_cross is not None:
            x = x + self.cross(self.norm_cross(x), memory=memory)
        return x + self.mlp(self.norm2(x))


class T5(nn.Module):
    """T5 encoder-decoder (Raffel et al. 2019): RMS norms, bucketed relative position bias, shared embedding."""

    def __init__(self, config: TransformerConfig, buckets: int = 32) -> None:
        super().__init__()
        self.heads, self.buckets = config.heads, buckets
        self.tokens = nn.Embedding(config.vocab, config.hidden)
        self.encoder_bias = nn.Embedding(buckets, config.heads)
        self.decoder_bias = nn.Embedding(buckets, config.heads)
        self.encoder = nn.ModuleList(T5Block(config.hidden, config.heads, False) for _ in range(config.layers))
        self.decoder = nn.ModuleList(T5Block(config.hidden, config.heads, True) for _ in range(config.layers))
        self.encoder_norm, self.decoder_norm = T5LayerNorm(config.hidden), T5LayerNorm(config.hidden)

    def _bias(self, table: nn.Embedding, length: int, device: torch.device) -> torch.Tensor:
        position = torch.arange(length, device=device)
        relative = position[None, :] - position[:, None]
        bucket = relative.abs().clamp(max=self.buckets - 1)
        return table(bucket).permute(2, 0, 1).unsqueeze(0)

    def forward(self, input_ids: torch.Tensor, decoder_input_ids: torch.Tensor) -> torch.Tensor:
        x = self.tokens(input_ids)
        bias = self._bias(self.encoder_bias, input_ids.shape[1], input_ids.device)
        for block in self.encoder:
            x = block(x, bias)
        memory = self.encoder_norm(x)
        y = self.tokens(decoder_input_ids)
        bias = self._bias(self.decoder_bias, decoder_input_ids.shape[1], input_ids.device)
        for block in self.decoder:
            y = block(y, bias, memory)
        return self.decoder_norm(y) @ self.tokens.weight.t()


class BrokenMlp(nn.Module):
    """Two MLPs around an op forced onto the CPU (torch_executed_ops): two engines and a graph break."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.first = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))
        self.second = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(torch.sigmoid(self.first(x)))


def _tokens(batch: int, length: int, vocab: int) -> torch.Tensor:
    return torch.randint(0, vocab, (batch, length))


def _bert(config: TransformerConfig, length: int) -> Callable[[], Built]:
    def build() -> Built:
        return Bert(config), (_tokens(1, length, config.vocab), torch.zeros(1, length, dtype=torch.long)), {}

    return build


def _gpt2(config: TransformerConfig, length: int) -> Callable[[], Built]:
    return lambda: (Gpt2(config), (_tokens(1, length, config.vocab),), {})


def _vit(config: TransformerConfig, image: int, patch: int) -> Callable[[], Built]:
    return lambda: (VisionTransformer(config, image, patch), (torch.randn(1, 3, image, image),), {})


def _t5(config: TransformerConfig, length: int) -> Callable[[], Built]:
    def build() -> Built:
        return T5(config), (_tokens(1, length, config.vocab), _tokens(1, length, config.vocab)), {}

    return build


def _resnet(widths: Tuple[int, ...], blocks: int, image: int, classes: int) -> Callable[[], Built]:
    return lambda: (ResNet(widths, blocks, classes), (torch.randn(1, 3, image, image),), {})


def _broken(width: int) -> Callable[[], Built]:
    return lambda: (BrokenMlp(width), (torch.randn(4, width),), {KEY_TORCH_EXECUTED_OPS: ["aten.sigmoid"]})


# The benchmark's set: the published configs, with ViT-B/16, BERT-base and
# GPT-2 at 2 of their 12 layers and T5-small at 1 of its 6 (encoder and
# decoder) to keep the run within minutes on a 2-core machine; widths, heads,
# vocabularies and sequence lengths are the real ones.
ZOO: Dict[str, Callable[[], Built]] = {
    "resnet18": _resnet((64, 128, 256, 512), 2, 224, 1000),
    "vit_b16": _vit(TransformerConfig(768, 2, 12), 224, 16),
    "bert_base": _bert(TransformerConfig(768, 2, 12), 128),
    "gpt2": _gpt2(TransformerConfig(768, 2, 12, vocab=50257, positions=1024), 128),
    "t5_small": _t5(TransformerConfig(512, 1, 8, vocab=32128), 64),
    "graph_break_mlp": _broken(512),
}

# The same architectures shrunk to export in seconds (the test command's).
SMALL_ZOO: Dict[str, Callable[[], Built]] = {
    "resnet": _resnet((8, 16), 1, 32, 10),
    "bert": _bert(TransformerConfig(32, 1, 2, vocab=100, positions=16), 8),
    "gpt2": _gpt2(TransformerConfig(32, 1, 2, vocab=100, positions=16), 8),
    "t5": _t5(TransformerConfig(32, 1, 2, vocab=100), 8),
    "vit": _vit(TransformerConfig(32, 1, 2), 32, 8),
    "graph_break_mlp": _broken(16),
}
