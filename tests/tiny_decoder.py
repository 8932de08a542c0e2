"""A decoder-only transformer built from a config, with a static KV cache
per layer as registered buffers updated in place (``index_put_``): the model
the state-in-place tests export with prefill and decode methods. One head:
what the test engine's 2-d ops compute (PROGRAM_FORMAT.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Tuple

import torch

MASKED = -1.0e4  # additive attention mask for positions not yet written


@dataclass(frozen=True)
class DecoderConfig:
    vocab: int = 16
    dim: int = 8
    heads: int = 1
    layers: int = 2
    max_seq: int = 8

    def __post_init__(self) -> None:
        if self.heads != 1:
            raise ValueError(f"tiny_decoder runs one attention head, got heads={self.heads}")


class DecoderLayer(torch.nn.Module):
    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        dim = config.dim
        self.q, self.k, self.v, self.o = (torch.nn.Linear(dim, dim, bias=False) for _ in range(4))
        self.register_buffer("k_cache", torch.zeros(config.max_seq, dim))
        self.register_buffer("v_cache", torch.zeros(config.max_seq, dim))
        self.scale = 1.0 / math.sqrt(dim)

    def forward(self, x: torch.Tensor, pos: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        self.k_cache.index_put_((pos,), self.k(x))
        self.v_cache.index_put_((pos,), self.v(x))
        attention = torch.softmax(self.q(x) @ self.k_cache.t() * self.scale + mask, dim=-1)
        return x + self.o(attention @ self.v_cache)


class TinyDecoder(torch.nn.Module):
    """forward(tokens [S] int64, pos [S] int64, mask [S, max_seq]) -> logits [S, vocab]."""

    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = torch.nn.Embedding(config.vocab, config.dim)
        self.layers = torch.nn.ModuleList(DecoderLayer(config) for _ in range(config.layers))
        self.head = torch.nn.Linear(config.dim, config.vocab, bias=False)

    def forward(self, tokens: torch.Tensor, pos: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens)
        for layer in self.layers:
            x = layer(x, pos, mask)
        return self.head(x)


def step_inputs(config: DecoderConfig, tokens: torch.Tensor, start: int) -> Tuple[torch.Tensor, ...]:
    """(tokens, positions, causal mask) for ``tokens`` written from position ``start``."""
    pos = torch.arange(start, start + len(tokens))
    allowed = torch.arange(config.max_seq)[None, :] <= pos[:, None]
    mask = torch.where(allowed, torch.tensor(0.0), torch.tensor(MASKED))
    return tokens, pos, mask
