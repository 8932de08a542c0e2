"""Writing programs: all files appear complete at their paths, or none changes."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import BinaryIO, Callable, Dict, Union

# A file's content: its bytes, or a function writing them to an open file
# (e.g. ``ExecutorchProgramManager.write_to_file``: no contiguous copy first).
Content = Union[bytes, Callable[[BinaryIO], None]]


def checked_target(path: Union[str, os.PathLike]) -> Path:
    """``path`` as a Path to a file that can be written (checked before slow work)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(f"{target} is a directory; give the path of the .pte file to write")
    if not target.parent.is_dir():
        raise FileNotFoundError(f"directory {target.parent} does not exist; create it first")
    return target


def write_all_atomically(files: Dict[Path, Content]) -> None:
    # Each file is written beside its target, then all are renamed; a failure
    # before the renames leaves every target untouched.
    staged = []
    try:
        for target, data in files.items():
            staged.append((stage(target, data), target))
        for tmp, target in staged:
            os.replace(tmp, target)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)


def stage(target: Path, data: Content) -> Path:
    # Same directory as the target, so os.replace is a rename on one filesystem.
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    # 0o666 filtered by the umask, like a plain open(); mkstemp would make it 0600.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            if callable(data):
                data(file)
            else:
                file.write(data)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp
