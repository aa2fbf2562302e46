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


def test_smtp_is_off_by_default(tmp_path: Path) -> None:
    """Does a fresh install leave outgoing mail unconfigured, so nothing leaves the box?"""
    layout = layout_in(tmp_path)
    write_default_config(layout.config_file)
    settings = Settings.load(layout)
    assert settings.smtp_host == ""
    assert (settings.smtp_port, settings.smtp_security) == (587, "starttls")
    assert settings.portal_address == "http://127.0.0.1:8001"


def test_smtp_settings_load(tmp_path: Path) -> None:
    """Does a complete relay configuration load, with the password read from its own file?"""
    layout = layout_in(tmp_path)
    secret = tmp_path / "smtp-password"
    secret.write_text("s3cret relay password\n")
    layout.config_file.write_text(
        'smtp_host = "mail.example.org"\nsmtp_port = 465\nsmtp_security = "tls"\n'
        'smtp_username = "hearth@example.org"\n'
        f'smtp_password_file = "{secret}"\n'
        'smtp_from = "Riverside Counseling <hearth@example.org>"\n'
        'portal_url = "https://portal.riverside.example/"\n')
    settings = Settings.load(layout)
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_security) == (
        "mail.example.org", 465, "tls")
    assert settings.smtp_password() == "s3cret relay password"
    assert settings.portal_address == "https://portal.riverside.example"


def test_plain_smtp_to_this_machine_is_allowed(tmp_path: Path) -> None:
    """Is an unencrypted relay accepted when it runs on 127.0.0.1?"""
    settings = Settings(layout=layout_in(tmp_path)).with_values(
        {"smtp_host": "127.0.0.1", "smtp_port": 25, "smtp_security": "none",
         "smtp_from": "hearth@practice.example"})
    assert settings.smtp_security == "none"
    assert settings.smtp_password() == ""


@pytest.mark.parametrize("values, fragment", [
    ({"smtp_security": "ssl"}, "smtp_security must be one of starttls, tls, none"),
    ({"smtp_host": "mail.example.org", "smtp_security": "none",
      "smtp_from": "a@example.org"}, "only allowed for a relay on this machine"),
    ({"smtp_host": "mail.example.org"}, "smtp_from must be the sender's e-mail address"),
    ({"smtp_host": "mail.example.org", "smtp_from": "not an address"}, "smtp_from"),
    ({"smtp_host": "mail example.org", "smtp_from": "a@example.org"}, "smtp_host must be"),
    ({"smtp_host": "mail.example.org", "smtp_from": "a@example.org",
      "smtp_username": "a@example.org"}, "smtp_username and smtp_password_file go together"),
    ({"smtp_host": "mail.example.org", "smtp_from": "a@example.org", "smtp_username": "a",
      "smtp_password_file": "keys/smtp"}, "must be an absolute path"),
    ({"smtp_port": 0}, "smtp_port must be between 1 and 65535"),
    ({"smtp_port": "587"}, "must be int"),
    ({"smtp_password": "hunter2"}, "unknown setting 'smtp_password'"),
    ({"portal_url": "portal.example.org"}, "portal_url must be an address"),
])
def test_bad_smtp_settings_are_refused_clearly(tmp_path: Path, values: dict[str, object],
                                               fragment: str) -> None:
    """Does each bad relay setting (or a password in the file) name the problem?"""
    with pytest.raises(ConfigError, match=fragment):
        Settings(layout=layout_in(tmp_path)).with_values(values)


def test_unreadable_smtp_password_file(tmp_path: Path) -> None:
    """Does a missing password file give a clear error naming the setting, not the secret?"""
    settings = Settings(layout=layout_in(tmp_path)).with_values(
        {"smtp_host": "mail.example.org", "smtp_from": "a@example.org", "smtp_username": "a",
         "smtp_password_file": str(tmp_path / "missing")})
    with pytest.raises(ConfigError, match="cannot read smtp_password_file"):
        settings.smtp_password()
