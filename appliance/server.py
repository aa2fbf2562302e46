"""Running Hearth: gunicorn for each app, the Huey consumer, and `hearth run` for development."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from gunicorn.app.base import BaseApplication

from appliance.config import Settings


def gunicorn_options(settings: Settings, which: str) -> dict[str, Any]:
    """One gunicorn configuration, shared by the units, `hearth run` and the benchmarks."""
    host, port = ((settings.staff_host, settings.staff_port) if which == "staff"
                  else (settings.portal_host, settings.portal_port))
    return {
        "bind": f"{host}:{port}",
        "workers": settings.web_workers,
        "threads": settings.web_threads,
        "worker_class": "gthread",
        "timeout": 60,
        "graceful_timeout": 10,
        "keepalive": 5,
        # Request lines and headers are bounded; bodies by MAX_CONTENT_LENGTH.
        "limit_request_line": 8190,
        # No access log: URLs are PHI-free by design, but addresses and timing
        # already go to the audit trail where they belong.
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": f"hearth-{which}",
        "forwarded_allow_ips": "127.0.0.1",
    }


class HearthGunicorn(BaseApplication):
    def __init__(self, factory: Any, options: dict[str, Any]) -> None:
        self.factory = factory
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.factory()


def serve_app(settings: Settings, which: str) -> None:
    from webapp import create_portal_app, create_staff_app

    factory = create_staff_app if which == "staff" else create_portal_app
    # Fail here, with one clear line, rather than inside every worker.
    factory(settings)
    HearthGunicorn(lambda: factory(settings), gunicorn_options(settings, which)).run()


def run_worker(settings: Settings, workers: int) -> None:
    from appliance.keys import AUDIT_KEY, DATABASE_KEY, load_key
    from appliance.storage import open_database
    from webapp.tasks import huey, import_task_modules, unlock_queue

    open_database(settings.layout)
    load_key(settings.layout, AUDIT_KEY)  # fail at start-up without it, in one line
    unlock_queue(settings.layout.queue, load_key(settings.layout, DATABASE_KEY))
    import_task_modules()
    consumer = huey.create_consumer(workers=workers, worker_type="thread",
                                    periodic=True, check_worker_health=True)
    consumer.run()


def run_all(settings: Settings) -> None:
    """Start the staff app, the portal and the worker; stop all three on Ctrl-C."""
    hearth = [sys.executable, "-m", "appliance.cli"]
    env = dict(os.environ, HEARTH_DATA_DIR=str(settings.layout.data_dir),
               HEARTH_CONFIG_DIR=str(settings.layout.config_dir),
               HEARTH_STAFF_PORT=str(settings.staff_port),
               HEARTH_PORTAL_PORT=str(settings.portal_port))
    children = [subprocess.Popen([*hearth, *args], env=env)
                for args in (["serve", "staff"], ["serve", "portal"], ["worker"])]
    print(f"Staff app:  http://{settings.staff_host}:{settings.staff_port}/", flush=True)
    print(f"Portal:     http://{settings.portal_host}:{settings.portal_port}/", flush=True)
    credentials = settings.layout.demo_credentials
    if credentials.exists():
        print(f"Demo users: {credentials}", flush=True)
    print("Press Ctrl-C to stop.", flush=True)

    def stop(*_: Any) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
    failed = [c.returncode for c in children if c.returncode not in (0, -15, None)]
    if failed:
        sys.exit(1)
