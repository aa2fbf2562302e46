"""Web: the signed-in client list under gunicorn, against hello-world under the same gunicorn.

The staff app runs as the product runs it (`python -m appliance.cli serve staff`:
`gunicorn_options(settings, "staff")` through HearthGunicorn) on a data dir with
10,000 demo clients; bench/hello_app.py serves a hello-world Flask app with the
very same options dict. Both listen on free 127.0.0.1 ports.

A demo clinician signs in (GET /login for the CSRF token and cookie, POST
/login), and wrk then loads `GET /clients/` (page 1 of the active clients, 50
of 10,000) with that session cookie: 20 connections, 2 threads, 10 s, three
rounds alternating with hello-world. Figures are medians over the rounds:

- client_list_rps_ratio  client list req/s / hello-world req/s (target >= 0.5)
- client_list_p95        p95 latency of the client list at 20 concurrent (< 100 ms)
- session_floor_rps_ratio  (no target) GET /healthz with the same session cookie
                       / hello-world: a signed-in request that renders nothing, so
                       the server-side session lookup and the app's request hooks
                       are all it costs; the ceiling for any signed-in page

wrk runs on the same 2 cores as the servers, as a browser-less load would in
any single-box test; it takes a larger share from the cheaper hello-world.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from appliance.paths import Layout
from bench.common import (
    BENCH_DIR,
    ROOT,
    Figure,
    demo_credentials,
    demo_data_dir,
    fmt,
    note,
)

GROUP = "web"
CLIENTS = 10_000
RATIO_TARGET = ">= 0.5"
P95_TARGET = "< 100 ms"
CONNECTIONS = 20
THREADS = 2
DURATION_S = 10
ROUNDS = 3
WARMUP_S = 3
COOKIE_NAME = "hearth_staff"  # behind_tls is false in the bench data dir
LIST_PATH = "/clients/"


class BenchError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@contextlib.contextmanager
def served(name: str, args: list[str], layout: Layout, ready_path: str) -> Iterator[Server]:
    """Start one gunicorn (in its own process group), wait until it answers, stop it after."""
    port = free_port()
    env = dict(os.environ, HEARTH_DATA_DIR=str(layout.data_dir),
               HEARTH_CONFIG_DIR=str(layout.config_dir), HEARTH_STAFF_PORT=str(port),
               HEARTH_PORTAL_PORT=str(free_port()))
    env.pop("CREDENTIALS_DIRECTORY", None)
    log = layout.data_dir / f"bench-{name}.log"
    with log.open("ab") as handle:
        process = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env,
                                   stdout=handle, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = Server(name, port, process, log)
    try:
        wait_ready(server, ready_path)
        yield server
    finally:
        stop(server)


def wait_ready(server: Server, path: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchError(f"{server.name} server exited with {server.process.returncode}:\n"
                             f"{server.log_tail()}")
        try:
            status, _, _ = request(server.port, "GET", path)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise BenchError(f"{server.name} server did not answer {path} within {timeout:.0f} s:\n"
                     f"{server.log_tail()}")


def stop(server: Server) -> None:
    process = server.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # gunicorn's graceful stop
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # its own group: only what we started
            process.wait(timeout=10)


def request(port: int, method: str, path: str, headers: dict[str, str] | None = None,
            body: str | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def cookie_from(headers: http.client.HTTPMessage) -> str | None:
    for value in headers.get_all("Set-Cookie") or []:
        jar: SimpleCookie = SimpleCookie()
        jar.load(value)
        if COOKIE_NAME in jar:
            return jar[COOKIE_NAME].value
    return None


def sign_in(port: int, username: str, password: str, totp_secret: str = "") -> str:
    """Sign in like a browser; returns the Cookie header value of the new session."""
    status, headers, body = request(port, "GET", "/login")
    if status != 200:
        raise BenchError(f"GET /login answered {status}")
    first = cookie_from(headers)
    match = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', body)
    if first is None or match is None:
        raise BenchError("GET /login gave no session cookie or no CSRF token")
    form = urllib.parse.urlencode({"username": username, "password": password,
                                   "csrf_token": match.group(1).decode()})
    status, headers, _ = request(port, "POST", "/login", body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"{COOKIE_NAME}={first}"})
    session = cookie_from(headers)
    if status != 302 or session is None:
        raise BenchError(f"POST /login answered {status} (expected 302 and a new cookie)")
    if headers.get("Location") == "/login/code":  # two-step sign-in: answer with the code
        import pyotp

        status, _, body = request(port, "GET", "/login/code",
                                  headers={"Cookie": f"{COOKIE_NAME}={session}"})
        match = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', body)
        if status != 200 or match is None or not totp_secret:
            raise BenchError(f"GET /login/code answered {status}, or no TOTP secret")
        form = urllib.parse.urlencode({"code": pyotp.TOTP(totp_secret).now(),
                                       "csrf_token": match.group(1).decode()})
        status, headers, _ = request(port, "POST", "/login/code", body=form, headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"{COOKIE_NAME}={session}"})
        session = cookie_from(headers)
        if status != 302 or session is None:
            raise BenchError(f"POST /login/code answered {status} (expected 302, a cookie)")
    return f"{COOKIE_NAME}={session}"


def check_list_page(port: int, cookie: str) -> int:
    """One request with the cookie must give the list itself; returns its size in bytes."""
    status, headers, body = request(port, "GET", LIST_PATH, headers={"Cookie": cookie})
    if status != 200:
        raise BenchError(f"GET {LIST_PATH} with the session cookie answered {status} "
                         f"(Location: {headers.get('Location')}); the sign-in did not stick")
    rows = body.count(b"<tr>") - 1  # minus the header row
    if rows != 50:
        raise BenchError(f"GET {LIST_PATH} listed {rows} clients, expected 50")
    return len(body)


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    bytes_per_response: float
    requests: int


def wrk(port: int, path: str, duration_s: int, cookie: str | None = None,
        expected_bytes: int | None = None) -> WrkResult:
    binary = shutil.which("wrk")
    if binary is None:
        raise BenchError("wrk is not installed (Debian: apt-get install -y wrk)")
    args = [binary, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{duration_s}s", "--timeout", "10s",
            "-s", str(BENCH_DIR / "wrk_report.lua")]
    if cookie:
        args += ["-H", f"Cookie: {cookie}"]
    args.append(f"http://127.0.0.1:{port}{path}")
    done = subprocess.run(args, capture_output=True, text=True, timeout=duration_s + 60)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    data: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
    errors = {k: data[k] for k in ("connect_errors", "read_errors", "write_errors",
                                   "status_errors", "timeouts") if data[k]}
    if errors or not data["requests"]:
        raise BenchError(f"wrk on {path}: {data['requests']} requests with errors {errors} "
                         "(status_errors counts non-2xx/3xx responses)\n" + done.stdout)
    per_response = data["bytes"] / data["requests"]
    if expected_bytes is not None and per_response < 0.9 * expected_bytes:
        raise BenchError(f"wrk on {path}: {per_response:.0f} bytes per response, but the page "
                         f"is {expected_bytes} bytes: some answers were not the page "
                         "(a redirect to /login?)")
    return WrkResult(rps=data["requests"] / (data["duration_us"] / 1e6),
                     p50_ms=data["p50_us"] / 1000, p95_ms=data["p95_us"] / 1000,
                     p99_ms=data["p99_us"] / 1000, bytes_per_response=per_response,
                     requests=int(data["requests"]))


def run() -> list[Figure]:
    from appliance.config import Settings
    from appliance.storage import db

    layout = demo_data_dir(CLIENTS)
    if not db.is_closed():
        db.close()
    settings = Settings.load(layout)
    clinician = next(user for user in demo_credentials(layout)["staff"]
                     if "clinician" in user["roles"])
    note(f"gunicorn as configured: {settings.web_workers} workers x {settings.web_threads} "
         f"threads (gthread); wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION_S}s, "
         f"{ROUNDS} rounds; signed in as {clinician['username']}")
    staff_cmd = ["-m", "appliance.cli", "serve", "staff"]
    hello_cmd = ["-m", "bench.hello_app"]
    with served("staff", staff_cmd, layout, "/healthz") as staff, \
            served("hello", hello_cmd, layout, "/") as hello:
        cookie = sign_in(staff.port, clinician["username"], clinician["password"],
                         clinician.get("totp_secret", ""))
        page_bytes = check_list_page(staff.port, cookie)
        note(f"signed in; {LIST_PATH} is {page_bytes:,} bytes with 50 clients")
        note("warm-up")
        wrk(staff.port, LIST_PATH, WARMUP_S, cookie, page_bytes)
        wrk(hello.port, "/", WARMUP_S)
        status, _, body = request(staff.port, "GET", "/healthz", headers={"Cookie": cookie})
        if status != 200:
            raise BenchError(f"GET /healthz with the session cookie answered {status}")
        targets = {"list": (staff.port, LIST_PATH, cookie, page_bytes),
                   "hello": (hello.port, "/", None, None),
                   "floor": (staff.port, "/healthz", cookie, len(body))}
        runs: dict[str, list[WrkResult]] = {kind: [] for kind in targets}
        kinds = list(targets)
        for index in range(ROUNDS):
            # Rotate the order each round so no kind always runs first or last.
            for kind in kinds[index % 3:] + kinds[:index % 3]:
                port, path, cookie_value, size = targets[kind]
                result = wrk(port, path, DURATION_S, cookie_value, size)
                runs[kind].append(result)
                note(f"round {index + 1} {kind}: {result.rps:.0f} req/s, "
                     f"p50 {result.p50_ms:.1f} ms, p95 {result.p95_ms:.1f} ms")
        check_list_page(staff.port, cookie)  # the session still held at the end
    lists, hellos, floors = runs["list"], runs["hello"], runs["floor"]
    ratio = statistics.median(a.rps / b.rps for a, b in zip(lists, hellos, strict=True))
    floor_ratio = statistics.median(a.rps / b.rps for a, b in zip(floors, hellos, strict=True))
    list_rps = statistics.median(r.rps for r in lists)
    hello_rps = statistics.median(r.rps for r in hellos)
    floor_rps = statistics.median(r.rps for r in floors)
    p95 = statistics.median(r.p95_ms for r in lists)
    p50 = statistics.median(r.p50_ms for r in lists)
    p99 = statistics.median(r.p99_ms for r in lists)
    return [
        Figure(GROUP, "client_list_rps_ratio", ratio, "x", baseline=hello_rps, ratio=ratio,
               target=RATIO_TARGET, subject=list_rps, raw_unit="req/s",
               detail=(f"GET {LIST_PATH} {fmt(list_rps)} req/s vs hello-world "
                       f"{fmt(hello_rps)} req/s, same gunicorn options, "
                       f"{CONNECTIONS} connections")),
        Figure(GROUP, "client_list_p95", p95, "ms", target=P95_TARGET,
               detail=(f"GET {LIST_PATH} at {CONNECTIONS} concurrent; p50 {fmt(p50)} ms, "
                       f"p99 {fmt(p99)} ms")),
        Figure(GROUP, "session_floor_rps_ratio", floor_ratio, "x", baseline=hello_rps,
               ratio=floor_ratio, subject=floor_rps, raw_unit="req/s",
               detail=(f"GET /healthz with the session cookie {fmt(floor_rps)} req/s vs "
                       f"hello-world {fmt(hello_rps)} req/s: the session lookup alone")),
    ]
