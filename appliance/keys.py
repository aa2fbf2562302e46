"""Secrets: the database key and the apps' session keys; create, load, rotate.

Each key is 32 random bytes written as 64 hex digits in its own 0600 file in
the key directory (var/keys in development, /etc/hearth/keys on the appliance).
Under systemd the units pass them as credentials instead, and a key found in
$CREDENTIALS_DIRECTORY wins over the file.

    key = load_key(layout, DATABASE_KEY)   # bytes, or raises KeyFileError
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from appliance import HearthError
from appliance.fileutil import write_new_file
from appliance.paths import Layout

DATABASE_KEY = "db.key"
STAFF_SESSION_KEY = "staff-session.key"
PORTAL_SESSION_KEY = "portal-session.key"
AUDIT_KEY = "audit.key"  # the audit chain's MAC key: outside the database it protects
ALL_KEYS = (DATABASE_KEY, STAFF_SESSION_KEY, PORTAL_SESSION_KEY, AUDIT_KEY)

KEY_BYTES = 32


class KeyFileError(HearthError):
    """A key is missing, empty, unreadable, malformed or too widely readable."""


def key_path(layout: Layout, name: str) -> Path:
    return layout.key_dir / name


def credential_path(name: str) -> Path | None:
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if directory:
        candidate = Path(directory) / name
        if candidate.exists():
            return candidate
    return None


def generate_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def create_key(layout: Layout, name: str) -> bytes:
    """Create a new key file; refuses to replace an existing one."""
    key = generate_key()
    layout.key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        write_new_file(key_path(layout, name), key.hex().encode() + b"\n", mode=0o600)
    except FileExistsError as exc:
        raise KeyFileError(f"{key_path(layout, name)} already exists; not replacing it") from exc
    return key


def parse_key(text: str, source: Path) -> bytes:
    value = text.strip()
    if not value:
        raise KeyFileError(
            f"the key file {source} is empty; refusing to open the database without a key"
        )
    if len(value) != KEY_BYTES * 2:
        raise KeyFileError(
            f"the key file {source} must hold {KEY_BYTES * 2} hex digits, it holds {len(value)}"
        )
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise KeyFileError(f"the key file {source} holds characters that are not hex") from exc


def load_key(layout: Layout, name: str) -> bytes:
    """Read one key, from the systemd credential if present, else the key file."""
    credential = credential_path(name)
    if credential is not None:
        return parse_key(_read(credential), credential)
    path = key_path(layout, name)
    if not path.exists():
        raise KeyFileError(
            f"the key file {path} does not exist; run 'hearth init' to set up a new "
            "installation, or restore the key from the backup of your keys"
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyFileError(
            f"the key file {path} is readable by others (mode {mode:04o}); "
            f"run 'chmod 600 {path}'"
        )
    return parse_key(_read(path), path)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii")
    except PermissionError as exc:
        raise KeyFileError(f"cannot read the key file {path}: permission denied") from exc
    except IsADirectoryError as exc:
        raise KeyFileError(f"the key file {path} is a directory, not a file") from exc
    except UnicodeDecodeError as exc:
        raise KeyFileError(f"the key file {path} holds characters that are not hex") from exc
    except OSError as exc:
        raise KeyFileError(f"cannot read the key file {path}: {exc.strerror}") from exc


def ensure_keys(layout: Layout) -> list[str]:
    """Create whichever keys are missing (used by `hearth init`); returns their names."""
    created = []
    for name in ALL_KEYS:
        if credential_path(name) is None and not key_path(layout, name).exists():
            create_key(layout, name)
            created.append(name)
    return created
