"""A tiny causal decoder built from a config, exported with two methods.

``prefill`` (a 16-token prompt) and ``decode`` (a short sequence) are the same
``forward`` exported with one dynamic sequence ``Dim``: their TensorRT
partitions are the same graph, so the program holds one engine, built once,
stored once in the program's named data and deserialized once at load (both
methods run on it, each with its own execution context).

executorch-tensorrt export examples/decoder.py -o decoder.pte
executorch-tensorrt inspect decoder.pte
executorch-tensorrt run decoder.pte --method decode
"""

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class DecoderConfig:
    vocab: int = 128
    hidden: int = 32
    heads: int = 2
    layers: int = 2
    max_length: int = 64


class Block(nn.Module):
    """Pre-norm causal self-attention and MLP (GPT-2's block)."""

    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        self.heads = config.heads
        self.norm1, self.norm2 = nn.LayerNorm(config.hidden), nn.LayerNorm(config.hidden)
        self.qkv = nn.Linear(config.hidden, 3 * config.hidden)
        self.out = nn.Linear(config.hidden, config.hidden)
        self.mlp = nn.Sequential(
            nn.Linear(config.hidden, 4 * config.hidden), nn.GELU(), nn.Linear(4 * config.hidden, config.hidden)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, length, hidden = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(hidden, dim=-1)
        shape = (batch, length, self.heads, hidden // self.heads)
        q, k, v = (t.reshape(shape).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-1, -2) / (hidden // self.heads) ** 0.5 + mask
        attended = (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, length, hidden)
        x = x + self.out(attended)
        return x + self.mlp(self.norm2(x))


class Decoder(nn.Module):
    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        self.tokens = nn.Embedding(config.vocab, config.hidden)
        self.positions = nn.Embedding(config.max_length, config.hidden)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.layers))
        self.norm = nn.LayerNorm(config.hidden)
        # The causal mask for the longest sequence; each call slices its length.
        causal = torch.full((config.max_length, config.max_length), float("-inf")).triu(1)
        self.register_buffer("causal", causal, persistent=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        length = tokens.shape[1]
        x = self.tokens(tokens) + self.positions.weight[:length]
        mask = self.causal[:length, :length]
        for block in self.blocks:
            x = block(x, mask)
        return self.norm(x) @ self.tokens.weight.t()


config = DecoderConfig()
torch.manual_seed(0)  # same weights on every export
model = Decoder(config)
# (max_length - 1: torch.export guards the slices of the max_length tables at their full length.)
sequence = torch.export.Dim("sequence", min=1, max=config.max_length - 1)
dynamic_shapes = ({1: sequence},)
# One example per method (torch.export specializes sizes 0 and 1, so the
# decode example has 2 tokens; the engine serves 1..max_length).
methods = {
    "prefill": (torch.randint(0, config.vocab, (1, 16)),),
    "decode": (torch.randint(0, config.vocab, (1, 2)),),
}


if __name__ == "__main__":
    from executorch_tensorrt import save

    print(save(model, "decoder.pte", methods=methods, dynamic_shapes=dynamic_shapes, verbose=True))
