"""Where Hearth keeps things; the only module that knows the directory layout.

Development keeps everything under ./var. The appliance keeps its data in
/var/lib/hearth and its configuration and keys in /etc/hearth. Either can be
redirected: HEARTH_DATA_DIR for the data, HEARTH_CONFIG_DIR for config and keys.

    layout = Layout.discover()
    layout.database  # -> Path('var/hearth.db')
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APPLIANCE_CONFIG_DIR = Path("/etc/hearth")
APPLIANCE_DATA_DIR = Path("/var/lib/hearth")
DEVELOPMENT_DATA_DIR = Path("var")


@dataclass(frozen=True)
class Layout:
    data_dir: Path
    config_dir: Path

    @classmethod
    def discover(cls, environ: dict[str, str] | None = None) -> Layout:
        env = os.environ if environ is None else environ
        appliance = (APPLIANCE_CONFIG_DIR / "hearth.toml").exists()
        data = env.get("HEARTH_DATA_DIR") or (
            APPLIANCE_DATA_DIR if appliance else DEVELOPMENT_DATA_DIR
        )
        data_dir = Path(data).absolute()
        config = env.get("HEARTH_CONFIG_DIR")
        if config:
            config_dir = Path(config).absolute()
        elif appliance and not env.get("HEARTH_DATA_DIR"):
            config_dir = APPLIANCE_CONFIG_DIR
        else:
            config_dir = data_dir
        return cls(data_dir=data_dir, config_dir=config_dir)

    @property
    def config_file(self) -> Path:
        return self.config_dir / "hearth.toml"

    @property
    def key_dir(self) -> Path:
        return self.config_dir / "keys"

    @property
    def database(self) -> Path:
        return self.data_dir / "hearth.db"

    @property
    def queue(self) -> Path:
        """The task queue: its own SQLCipher file so Huey's tables stay apart."""
        return self.data_dir / "queue.db"

    @property
    def lock_file(self) -> Path:
        """Every process holds a shared lock on it; key rotation needs it exclusive."""
        return self.data_dir / "hearth.lock"

    @property
    def demo_credentials(self) -> Path:
        return self.data_dir / "demo-credentials.json"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def audit_checkpoints(self) -> Path:
        """The audit chain's recent heads, outside the database (backups carry it)."""
        return self.data_dir / "audit-checkpoint.json"

    @property
    def audit_verified(self) -> Path:
        """The last `hearth audit verify` result, for the console."""
        return self.data_dir / "audit-verified.json"
