"""Crash-safe writes: a failed write never replaces a good file or leaves a fragment."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from appliance import fileutil


def full_disk(fd: int, data: bytes) -> int:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_replace_keeps_the_old_file_when_the_disk_is_full(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Does a write that fails for lack of space leave the old content and no temp file?"""
    target = tmp_path / "demo-credentials.json"
    fileutil.replace_file(target, b"good")
    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(OSError, match="No space"):
        fileutil.replace_file(target, b"new content")
    monkeypatch.undo()
    assert target.read_bytes() == b"good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo-credentials.json"]


def test_new_file_is_all_or_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Does a failed first write leave no file at all, and a good one come out 0600?"""
    target = tmp_path / "keys" / "db.key"
    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(OSError):
        fileutil.write_new_file(target, b"ab" * 32)
    monkeypatch.undo()
    assert list(target.parent.iterdir()) == []
    fileutil.write_new_file(target, b"ab" * 32)
    assert target.read_bytes() == b"ab" * 32
    assert target.stat().st_mode & 0o777 == 0o600
    with pytest.raises(FileExistsError):
        fileutil.write_new_file(target, b"cd" * 32)
    assert target.read_bytes() == b"ab" * 32


def test_short_writes_are_completed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the OS writes only part of the buffer, is the rest still written?"""
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, bytes(data[:3])))
    fileutil.replace_file(tmp_path / "f", b"0123456789")
    monkeypatch.undo()
    assert (tmp_path / "f").read_bytes() == b"0123456789"
