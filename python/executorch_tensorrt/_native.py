"""Loads the native delegate and reports how it registered.

The extension module links ``libexecutorch_tensorrt_delegate.so``, whose static
initializer registers the backend with the ``libexecutorch.so`` of the
installed ``executorch`` wheel, the same library ``executorch.runtime`` uses.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from . import _build_info
from .runtime import _runtime

BACKEND_ID: str = _runtime.BACKEND_ID
# Where the compiled parts are installed (lib/, bin/, include/): next to the
# extension, which an editable install keeps in site-packages while the
# Python sources stay in the checkout.
PACKAGE_DIR = Path(_runtime.__file__).resolve().parent.parent
LIB_DIR = PACKAGE_DIR / "lib"
INCLUDE_DIR = PACKAGE_DIR / "include"
RUNNER = PACKAGE_DIR / "bin" / "executorch-tensorrt-runner"
WITH_TENSORRT: bool = _build_info.WITH_TENSORRT


class RegistrationError(RuntimeError):
    """The delegate could not register with ExecuTorch's backend registry."""


def registration_error() -> str | None:
    """Why the backend is not registered, or None when it is."""
    status = _runtime.registration_status()
    if status == 0:
        return None
    return (
        f"registering backend {BACKEND_ID!r} with ExecuTorch failed (error {status:#x}): "
        "the id is already taken (two copies of libexecutorch_tensorrt_delegate.so in this "
        "process?) or ExecuTorch's backend registry is full"
    )


def check_registered() -> None:
    message = registration_error()
    if message:
        raise RegistrationError(message)


_message = registration_error()
if _message:
    warnings.warn(_message, RuntimeWarning, stacklevel=2)
