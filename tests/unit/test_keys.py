"""Key files: created safely, loaded strictly."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance import keys
from appliance.paths import Layout


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout(data_dir=tmp_path, config_dir=tmp_path)


def test_created_keys_are_private_and_random(layout: Layout) -> None:
    """Are new keys 256-bit, 0600, and different from each other?"""
    created = keys.ensure_keys(layout)
    assert sorted(created) == sorted(keys.ALL_KEYS)
    values = {keys.load_key(layout, name) for name in keys.ALL_KEYS}
    assert len(values) == len(keys.ALL_KEYS) == 4 and all(len(v) == 32 for v in values)
    for name in keys.ALL_KEYS:
        assert keys.key_path(layout, name).stat().st_mode & 0o777 == 0o600
    assert keys.ensure_keys(layout) == []


def test_existing_key_is_never_replaced(layout: Layout) -> None:
    """Does creating a key over an existing one fail rather than overwrite it?"""
    original = keys.create_key(layout, keys.DATABASE_KEY)
    with pytest.raises(keys.KeyFileError, match="already exists"):
        keys.create_key(layout, keys.DATABASE_KEY)
    assert keys.load_key(layout, keys.DATABASE_KEY) == original


@pytest.mark.parametrize("content, message", [
    ("", "is empty"),
    ("   \n", "is empty"),
    ("abc", "must hold 64 hex digits"),
    ("zz" * 32, "not hex"),
])
def test_bad_key_content(layout: Layout, content: str, message: str) -> None:
    """Is an empty, short or non-hex key refused with a clear message?"""
    path = keys.key_path(layout, keys.DATABASE_KEY)
    path.parent.mkdir(parents=True)
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(keys.KeyFileError, match=message):
        keys.load_key(layout, keys.DATABASE_KEY)


def test_widely_readable_key_is_refused(layout: Layout) -> None:
    """Is a key file readable by the group or others refused, with the chmod to fix it?"""
    keys.create_key(layout, keys.DATABASE_KEY)
    path = keys.key_path(layout, keys.DATABASE_KEY)
    path.chmod(0o644)
    with pytest.raises(keys.KeyFileError, match="chmod 600"):
        keys.load_key(layout, keys.DATABASE_KEY)


def test_systemd_credential_wins(layout: Layout, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Does a key passed as a systemd credential take precedence over the file?"""
    keys.create_key(layout, keys.DATABASE_KEY)
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / keys.DATABASE_KEY).write_text("ab" * 32)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    assert keys.load_key(layout, keys.DATABASE_KEY) == bytes.fromhex("ab" * 32)


def test_missing_key_names_the_fix(layout: Layout) -> None:
    """Does a missing key say to run init or restore the key, rather than make a new one?"""
    with pytest.raises(keys.KeyFileError, match="hearth init"):
        keys.load_key(layout, keys.DATABASE_KEY)
    assert not keys.key_path(layout, keys.DATABASE_KEY).exists()
