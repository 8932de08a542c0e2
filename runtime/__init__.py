"""Load and run ``.pte`` programs with the TensorRT delegate from Python.

Unlike ``executorch.runtime``, this loader passes load-time backend options to
the delegate (``Module::load(LoadBackendOptionsMap)``) and reports the
delegate's reason when a load or a run fails.
"""

from __future__ import annotations

from .program import DelegateError, Program, load
from .cli_run import cli_run

__all__ = ["DelegateError", "Program", "load", "cli_run"]
