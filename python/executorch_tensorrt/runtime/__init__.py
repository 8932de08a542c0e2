"""Load and run ``.pte`` programs with the TensorRT delegate from Python.

Unlike ``executorch.runtime``, this loader passes load-time backend options to
the delegate (``Module::load(LoadBackendOptionsMap)``) and reports the
delegate's reason when a load or a run fails.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DelegateError", "Program", "load", "cli_run"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: `import executorch_tensorrt` imports this package
    # for its native extension and should not pay for torch.
    if name in ("DelegateError", "Program", "load"):
        from . import program

        return getattr(program, name)
    if name == "cli_run":
        from .run_command import cli_run

        return cli_run
    raise AttributeError(f"module 'executorch_tensorrt.runtime' has no attribute {name!r}")
