"""Settings: defaults, the file, the environment, and bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.config import ConfigError, Settings, write_default_config
from appliance.paths import Layout


def layout_in(tmp_path: Path) -> Layout:
    return Layout(data_dir=tmp_path, config_dir=tmp_path)


def test_default_file_round_trips(tmp_path: Path) -> None:
    """Does the commented default file load back to the defaults?"""
    layout = layout_in(tmp_path)
    write_default_config(layout.config_file, "Riverside Counseling")
    settings = Settings.load(layout)
    assert settings.practice_name == "Riverside Counseling"
    assert (settings.staff_port, settings.portal_port) == (8000, 8001)
    assert layout.config_file.stat().st_mode & 0o777 == 0o640


def test_environment_ports_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Do HEARTH_STAFF_PORT and HEARTH_PORTAL_PORT override the file?"""
    monkeypatch.setenv("HEARTH_STAFF_PORT", "9100")
    monkeypatch.setenv("HEARTH_PORTAL_PORT", "9101")
    settings = Settings.load(layout_in(tmp_path))
    assert (settings.staff_port, settings.portal_port) == (9100, 9101)


@pytest.mark.parametrize("text, fragment", [
    ("staff_port = 'eight'", "must be int"),
    ("staff_port = 70000", "between 1 and 65535"),
    ("colour = 'blue'", "unknown setting 'colour'"),
    ("timezone = 'Mars/Olympus'", "unknown time zone"),
    ("staff_port = 8001", "different ports"),
    ("behind_tls = 1", "must be bool"),
    ("web_workers = true", "must be int"),
    ("practice_name = ", "not valid TOML"),
])
def test_bad_settings_are_refused_clearly(tmp_path: Path, text: str, fragment: str) -> None:
    """Does each bad value give a message that names the problem?"""
    layout = layout_in(tmp_path)
    layout.config_file.write_text(text + "\n")
    with pytest.raises(ConfigError, match=fragment):
        Settings.load(layout)


def test_bad_port_in_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Is a non-numeric HEARTH_STAFF_PORT refused?"""
    monkeypatch.setenv("HEARTH_STAFF_PORT", "80a")
    with pytest.raises(ConfigError, match="HEARTH_STAFF_PORT"):
        Settings.load(layout_in(tmp_path))


def test_layout_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Does HEARTH_DATA_DIR move data, config and keys together in development?"""
    layout = Layout.discover({"HEARTH_DATA_DIR": str(tmp_path)})
    assert layout.database == tmp_path / "hearth.db"
    assert layout.key_dir == tmp_path / "keys"
    assert layout.queue == tmp_path / "queue.db"
    separate = Layout.discover({"HEARTH_DATA_DIR": str(tmp_path),
                                "HEARTH_CONFIG_DIR": str(tmp_path / "etc")})
    assert separate.config_file == tmp_path / "etc" / "hearth.toml"
