"""Crash-safe file writes: a half-written file never takes the place of a good one."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temporary(path: Path, content: bytes, mode: int) -> Path:
    """Write `content` beside `path` under a temporary name, with `mode` from the start."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)  # a leftover from a crash; O_EXCL below sets our mode
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(content)
        while view:  # os.write may write less than asked
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)  # e.g. a full disk: leave nothing half-written
        raise
    os.close(fd)
    return tmp


def write_new_file(path: Path, content: bytes, mode: int = 0o600) -> None:
    """Create `path` with `mode` from the first byte; fail if it already exists.

    Written under a temporary name and linked into place, so a crash leaves
    either no file or the whole file.
    """
    tmp = _write_temporary(path, content, mode)
    try:
        os.link(tmp, path)  # fails with FileExistsError rather than replacing
    finally:
        tmp.unlink()
    fsync_dir(path.parent)


def replace_file(path: Path, content: bytes, mode: int = 0o600) -> None:
    """Atomically replace `path` (or create it) with `content`."""
    tmp = _write_temporary(path, content, mode)
    os.replace(tmp, path)
    fsync_dir(path.parent)
