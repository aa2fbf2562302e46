"""Helpers for the storage, keys and CLI integration tests.

A demo practice is built once per session with the real `hearth init` and
`hearth demo` (argon2 hashing makes that the slow part); each test copies it.

    def test_something(demo_layout: Layout) -> None:
        before = file_digests(demo_layout.data_dir)
        ...
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance import storage
from appliance.paths import Layout
from tests.conftest import HEARTH, ROOT, run_hearth

DEMO_SEED = 2026
NOBODY = 65534


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Layout:
    """An initialised data dir holding the default demo practice (150 clients)."""
    data = tmp_path_factory.mktemp("demo-template") / "var"
    template = Layout(data_dir=data, config_dir=data)
    for args in (["init"], ["demo", "--seed", str(DEMO_SEED)]):
        result = run_hearth(template, *args)
        assert result.returncode == 0, result.stderr
    return template


@pytest.fixture
def demo_layout(demo_template: Layout, layout: Layout) -> Layout:
    """This test's own copy of the demo practice."""
    copy_data_dir(demo_template, layout)
    return layout


def copy_data_dir(source: Layout, target: Layout) -> None:
    shutil.copytree(source.data_dir, target.data_dir)


def file_digests(directory: Path) -> dict[str, str]:
    """sha256 of every regular file under `directory`, by relative path."""
    return {str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(directory.rglob("*")) if path.is_file()}


def release_database() -> None:
    """Let a subprocess (or key rotation) have the database: close ours, drop our lock."""
    if not storage.db.is_closed():
        storage.db.close()
    storage.release_shared_lock()


def assert_one_line_failure(result: subprocess.CompletedProcess[str], expected: str) -> None:
    """The CLI failed with exactly one 'hearth: ...' line on stderr holding `expected`."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("hearth: "), lines[0]
    assert expected in lines[0], lines[0]


def hearth_env(layout: Layout, **extra: str) -> dict[str, str]:
    environment = dict(os.environ, HEARTH_DATA_DIR=str(layout.data_dir),
                       HEARTH_CONFIG_DIR=str(layout.config_dir), **extra)
    environment.pop("CREDENTIALS_DIRECTORY", None)
    return environment


def start_worker(layout: Layout, **kwargs: Any) -> subprocess.Popen[str]:
    """A real `hearth worker` (Huey consumer) process."""
    return subprocess.Popen([*HEARTH, "worker", "--workers", "1"], env=hearth_env(layout),
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kwargs)


def stop_process(process: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGTERM, wait, SIGKILL if it will not stop; returns its output."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()


@pytest.fixture
def worker_processes() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts; every one is stopped when the test ends, pass or fail."""
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        stop_process(process)


# --- running the CLI without root's power to read any file -------------------------------

def nobody_can_run_python() -> bool:
    """Whether user nobody can start this interpreter (not if it lives under /root)."""
    try:
        subprocess.run([sys.executable, "-c", "import appliance"], user=NOBODY, group=NOBODY,
                       extra_groups=[], cwd=ROOT, capture_output=True, timeout=60, check=True)
    except (PermissionError, subprocess.CalledProcessError):
        return False
    return True


def drop_file_override_capabilities() -> None:
    """preexec_fn: remove CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding set.

    The child is still uid 0 but, like any other user, obeys file modes.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop = 24
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(pr_capbset_drop, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def chown_tree(directory: Path, uid: int, gid: int) -> None:
    os.chown(directory, uid, gid)
    for path in directory.rglob("*"):
        os.chown(path, uid, gid, follow_symlinks=False)
