"""The web group's baseline: a hello-world Flask app served exactly as the staff app is.

    HEARTH_DATA_DIR=... HEARTH_STAFF_PORT=8123 python -m bench.hello_app

It takes the gunicorn options from `gunicorn_options(settings, "staff")` and runs
them through HearthGunicorn, so workers, threads, keep-alive and logging match
`hearth serve staff`; only the application differs.
"""

from __future__ import annotations

from flask import Flask

from appliance.config import Settings
from appliance.server import HearthGunicorn, gunicorn_options


def create_app() -> Flask:
    app = Flask("hello")

    @app.get("/")
    def hello() -> str:
        return "Hello, world!"

    return app


def main() -> None:
    settings = Settings.load()
    options = gunicorn_options(settings, "staff")
    options["proc_name"] = "hearth-bench-hello"
    HearthGunicorn(create_app, options).run()


if __name__ == "__main__":
    main()
