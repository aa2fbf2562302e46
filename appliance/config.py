"""One typed settings object, read from hearth.toml; the only reader of config files.

    settings = Settings.load()          # discovers the layout, reads hearth.toml
    settings.staff_port                 # env HEARTH_STAFF_PORT wins over the file

The file holds no secrets: keys live in their own 0600 files (appliance.keys).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from appliance import HearthError
from appliance.paths import Layout


class ConfigError(HearthError):
    pass


DEFAULT_CONFIG = """\
# Hearth settings. Secrets are not kept here: see the keys/ directory.

# The practice's name, shown on every page and in messages to clients.
practice_name = "{practice_name}"

# Times are stored in UTC and shown in this time zone.
timezone = "America/New_York"

# Where the staff app (LAN only) and the client portal listen.
staff_host = "127.0.0.1"
staff_port = 8000
portal_host = "127.0.0.1"
portal_port = 8001

# True when nginx serves the apps over HTTPS: cookies become Secure and take
# the __Host- prefix, and HSTS is sent.
behind_tls = false

# Sign-in protection: an account locks after this many failures in a row, for
# this many minutes (an admin can unlock it sooner: hearth users unlock NAME);
# one address may fail this many times per window before it must wait.
lockout_threshold = 10
lockout_minutes = 15
address_failure_limit = 30
address_window_minutes = 15

# gunicorn worker processes and threads per app. Processes carry the CPU work:
# threads in one process queue behind each other in SQLite and the GIL.
web_workers = 4
web_threads = 2

# The portal's address as clients reach it, for links in e-mails (portal
# invitations). Empty: http://portal_host:portal_port, fine for development.
portal_url = ""

# Outgoing e-mail (SMTP relay). With no smtp_host nothing leaves the box: mail
# waits in the outbox, which the admin console shows. The password lives in its
# own file (mode 0600), never here. smtp_security is "starttls" (port 587),
# "tls" (port 465) or "none" (only for a relay on this machine, 127.0.0.1).
# smtp_host = "mail.example.org"
# smtp_port = 587
# smtp_security = "starttls"
# smtp_username = "hearth@example.org"
# smtp_password_file = "/etc/hearth/keys/smtp-password"
# smtp_from = "Riverside Counseling <hearth@example.org>"
"""


@dataclass(frozen=True)
class Settings:
    layout: Layout
    practice_name: str = "Hearth Practice"
    timezone: str = "America/New_York"
    staff_host: str = "127.0.0.1"
    staff_port: int = 8000
    portal_host: str = "127.0.0.1"
    portal_port: int = 8001
    behind_tls: bool = False
    web_workers: int = 4
    web_threads: int = 2
    lockout_threshold: int = 10
    lockout_minutes: int = 15
    address_failure_limit: int = 30
    address_window_minutes: int = 15
    portal_url: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_username: str = ""
    smtp_password_file: str = ""
    smtp_from: str = ""
    # Not read from the file: set by tests and tools that build apps directly.
    testing: bool = field(default=False)

    @classmethod
    def load(cls, layout: Layout | None = None) -> Settings:
        layout = layout or Layout.discover()
        values: dict[str, Any] = {}
        if layout.config_file.exists():
            try:
                values = tomllib.loads(layout.config_file.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{layout.config_file} is not valid TOML: {exc}") from exc
            except PermissionError as exc:
                raise ConfigError(f"cannot read {layout.config_file}: permission denied") from exc
        settings = cls(layout=layout)
        return settings.with_values(values).with_environment(os.environ)

    def with_values(self, values: dict[str, Any]) -> Settings:
        known = {f.name: f for f in fields(self) if f.name not in ("layout", "testing")}
        changes: dict[str, Any] = {}
        for name, value in values.items():
            if name not in known:
                raise ConfigError(f"unknown setting {name!r} in {self.layout.config_file}")
            expected = type(getattr(self, name))
            if (expected is int and isinstance(value, bool)) or not isinstance(value, expected):
                raise ConfigError(
                    f"setting {name!r} must be {expected.__name__}, not {value!r}"
                )
            changes[name] = value
        return replace(self, **changes)._validated()

    def with_environment(self, environ: Any) -> Settings:
        changes: dict[str, Any] = {}
        for variable, name in (("HEARTH_STAFF_PORT", "staff_port"),
                               ("HEARTH_PORTAL_PORT", "portal_port")):
            raw = environ.get(variable)
            if raw:
                if not raw.isdigit():
                    raise ConfigError(f"{variable} must be a port number, not {raw!r}")
                changes[name] = int(raw)
        return replace(self, **changes)._validated()

    def _validated(self) -> Settings:
        for name in ("staff_port", "portal_port"):
            port = getattr(self, name)
            if not 1 <= port <= 65535:
                raise ConfigError(f"{name} must be between 1 and 65535, not {port}")
        if self.staff_port == self.portal_port and self.staff_host == self.portal_host:
            raise ConfigError("the staff app and the portal need different ports")
        if self.web_workers < 1 or self.web_threads < 1:
            raise ConfigError("web_workers and web_threads must be at least 1")
        for name in ("lockout_threshold", "lockout_minutes", "address_failure_limit",
                     "address_window_minutes"):
            if not 1 <= getattr(self, name) <= 10_000:
                raise ConfigError(f"{name} must be between 1 and 10000")
        self._check_portal_url()
        self._check_smtp()
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(self.timezone)
        except Exception as exc:
            raise ConfigError(f"unknown time zone {self.timezone!r}") from exc
        return self

    def _check_portal_url(self) -> None:
        url = self.portal_url
        if url and (not url.startswith(("https://", "http://")) or any(
                c.isspace() for c in url) or "?" in url or "#" in url):
            raise ConfigError("portal_url must be an address like https://portal.example.org, "
                              f"not {url!r}")

    def _check_smtp(self) -> None:
        if self.smtp_security not in SMTP_SECURITY:
            raise ConfigError("smtp_security must be one of "
                              f"{', '.join(SMTP_SECURITY)}, not {self.smtp_security!r}")
        if not 1 <= self.smtp_port <= 65535:
            raise ConfigError(f"smtp_port must be between 1 and 65535, not {self.smtp_port}")
        host = self.smtp_host
        if not host:
            return
        if not _is_host(host):
            raise ConfigError(f"smtp_host must be a host name or address, not {host!r}")
        if self.smtp_security == "none" and host not in LOOPBACK_HOSTS:
            raise ConfigError('smtp_security = "none" sends mail unencrypted: it is only '
                              f"allowed for a relay on this machine (127.0.0.1), not {host!r}")
        if not _looks_like_address(self.smtp_from):
            raise ConfigError("smtp_from must be the sender's e-mail address "
                              f"(e.g. hearth@example.org), not {self.smtp_from!r}")
        if bool(self.smtp_username) != bool(self.smtp_password_file):
            raise ConfigError("smtp_username and smtp_password_file go together: "
                              "set both or neither")
        if self.smtp_password_file and not Path(self.smtp_password_file).is_absolute():
            raise ConfigError("smtp_password_file must be an absolute path, "
                              f"not {self.smtp_password_file!r}")

    @property
    def database_path(self) -> Path:
        return self.layout.database

    @property
    def portal_address(self) -> str:
        """Where clients reach the portal, without a trailing slash."""
        if self.portal_url:
            return self.portal_url.rstrip("/")
        scheme = "https" if self.behind_tls else "http"
        return f"{scheme}://{self.portal_host}:{self.portal_port}"

    def smtp_password(self) -> str:
        """The relay password, read from its own file when it is needed."""
        if not self.smtp_password_file:
            return ""
        try:
            return Path(self.smtp_password_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read smtp_password_file {self.smtp_password_file}: "
                              f"{exc.strerror}") from exc


SMTP_SECURITY = ("starttls", "tls", "none")
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def _is_host(value: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        labels = value.rstrip(".").split(".")
        return all(label and len(label) <= 63 and label.replace("-", "").isalnum()
                   and label.isascii() and not label.startswith("-") for label in labels)


def _looks_like_address(value: str) -> bool:
    """A bare address or "Name <address>": one @, something either side, no spaces in it."""
    address = value.strip()
    if address.endswith(">") and "<" in address:
        address = address[address.rindex("<") + 1:-1]
    local, at, domain = address.partition("@")
    return bool(at and local and "." in domain and "@" not in domain
                and not any(c.isspace() for c in address))


def write_default_config(path: Path, practice_name: str = "Hearth Practice") -> None:
    """Write the commented default file; never replaces an existing one."""
    from appliance.fileutil import write_new_file

    write_new_file(path, DEFAULT_CONFIG.format(practice_name=practice_name).encode(), mode=0o640)
