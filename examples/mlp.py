"""A small MLP to try the exporter with.

executorch-tensorrt export examples/mlp.py -o mlp.pte
executorch-tensorrt inspect mlp.pte
executorch-tensorrt run mlp.pte
"""

import torch
from torch import nn


class MLP(nn.Module):
    def __init__(self, in_features: int = 16, hidden: int = 64, out_features: int = 10) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, out_features),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


torch.manual_seed(0)  # same weights on every export
model = MLP()
example_inputs = (torch.randn(1, 16),)


if __name__ == "__main__":
    from executorch_tensorrt import save

    print(save(model, "mlp.pte", inputs=example_inputs))
