"""What every benchmark group shares: figures, median timing, the result log, demo data.

    fig = Figure("storage", "search_ratio", 1.08, "x", subject=0.91, baseline=0.84,
                 raw_unit="ms", target="<= 1.25", detail="sqlcipher 0.91 ms vs sqlite 0.84 ms")
    layout = demo_data_dir(client_count=10_000)   # built once per process, removed at exit

A figure measured against a baseline in the same run has `value` = `ratio` =
subject / baseline (unit "x"), and keeps the two raw medians in `subject` and
`baseline` (unit `raw_unit`). The machine is shared and noisy: every number is
a median, and ratios come from rounds that time both sides back to back.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from appliance.paths import Layout

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
# HEARTH_BENCH_RESULTS redirects the log (e.g. when running from another work tree).
RESULTS = Path(os.environ.get("HEARTH_BENCH_RESULTS") or BENCH_DIR / "results.jsonl")
RUN_ID = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

_TARGET = re.compile(r"^\s*(<=|>=|<|>|~)\s*([0-9.]+)")


@dataclass
class Figure:
    group: str
    name: str
    value: float
    unit: str
    baseline: float | None = None  # the baseline's raw median (in raw_unit)
    ratio: float | None = None
    target: str | None = None  # as the issue states it: "<= 1.25", ">= 0.5", "< 100 ms"
    subject: float | None = None  # the measured side's raw median (in raw_unit)
    raw_unit: str | None = None
    detail: str = ""  # printed only

    @property
    def met(self) -> bool | None:
        """Whether the value meets a <, <=, >, >= target; None for "~" or no target."""
        match = _TARGET.match(self.target or "")
        if not match:
            return None
        op, bound = match.group(1), float(match.group(2))
        return {"<=": self.value <= bound, ">=": self.value >= bound, "<": self.value < bound,
                ">": self.value > bound}.get(op)

    def line(self) -> str:
        unit = "" if self.unit == "x" else f" {self.unit}"
        extra = [part for part in (self.detail, self.target and f"target {self.target}") if part]
        verdict = {True: "", False: "  MISSED", None: ""}[self.met]
        inside = f"  ({', '.join(extra)})" if extra else ""
        return f"{self.group}  {self.name}  {fmt(self.value)}{unit}{inside}{verdict}"

    def record(self) -> dict[str, Any]:
        data: dict[str, Any] = {"group": self.group, "name": self.name,
                                "value": round_sig(self.value), "unit": self.unit}
        if self.baseline is not None:
            data["baseline"] = round_sig(self.baseline)
        if self.ratio is not None:
            data["ratio"] = round_sig(self.ratio)
        if self.target is not None:
            data["target"] = self.target
            data["met"] = self.met
        if self.subject is not None:
            data["subject"] = round_sig(self.subject)
        if self.raw_unit is not None:
            data["raw_unit"] = self.raw_unit
        data["run"] = RUN_ID
        data["commit"] = _commit()
        return data


def fmt(value: float) -> str:
    if value == 0 or not math.isfinite(value):
        return str(value)
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    # Three decimals, so a ratio of 1.255 never prints as a "1.25" that missed 1.25.
    return f"{value:.3f}" if abs(value) >= 0.1 else f"{value:.3g}"


def round_sig(value: float, digits: int = 4) -> float:
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


_commit_cache: list[str] = []


def _commit() -> str:
    if not _commit_cache:
        try:
            head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                  capture_output=True, text=True, timeout=10).stdout.strip()
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                   cwd=ROOT, capture_output=True, text=True,
                                   timeout=10).stdout.strip()
            _commit_cache.append(f"{head}{'-dirty' if dirty else ''}" if head else "unknown")
        except (OSError, subprocess.SubprocessError):
            _commit_cache.append("unknown")
    return _commit_cache[0]


def write_results(figures: list[Figure], path: Path = RESULTS) -> None:
    """Append one JSON object per figure; earlier runs stay in the file."""
    with path.open("a", encoding="utf-8") as handle:
        for figure in figures:
            handle.write(json.dumps(figure.record(), sort_keys=False) + "\n")


def note(message: str) -> None:
    """Progress goes to stderr so stdout holds only the figure lines."""
    print(f"  .. {message}", file=sys.stderr, flush=True)


# -- timing -------------------------------------------------------------------

def time_batch(fn: Callable[[], Any], number: int) -> float:
    """Seconds per call, over `number` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def calibrate(fn: Callable[[], Any], min_batch_s: float = 0.05, limit: int = 100_000) -> int:
    """How many calls make one batch last at least `min_batch_s` (after one warm-up call)."""
    fn()
    number = 1
    while number < limit:
        if time_batch(fn, number) * number >= min_batch_s:
            return number
        number *= 2
    return limit


def median_time(fn: Callable[[], Any], rounds: int = 15, number: int | None = None,
                min_batch_s: float = 0.05) -> float:
    """Median seconds per call over `rounds` batches."""
    number = number or calibrate(fn, min_batch_s)
    return statistics.median(time_batch(fn, number) for _ in range(rounds))


@dataclass(frozen=True)
class Comparison:
    subject_s: float  # median seconds per call
    baseline_s: float
    ratio: float  # median of the per-round ratios subject / baseline


def compare(subject: Callable[[], Any], baseline: Callable[[], Any], rounds: int = 15,
            min_batch_s: float = 0.05,
            subject_ctx: Callable[[], AbstractContextManager[Any]] | None = None,
            baseline_ctx: Callable[[], AbstractContextManager[Any]] | None = None) -> Comparison:
    """Time both sides in alternating rounds (order flipped each round); report medians.

    Pairing the two sides inside each round keeps machine-wide slowdowns (another
    process on a shared core) out of the ratio as far as possible. A side's
    `*_ctx` is entered around each of its batches, outside the timed calls (for
    example to bind the models to that side's database).
    """
    contexts = {"s": subject_ctx or nullcontext, "b": baseline_ctx or nullcontext}
    functions = {"s": subject, "b": baseline}

    def batch(side: str, number: int) -> float:
        with contexts[side]():
            return time_batch(functions[side], number)

    def calibrated(side: str) -> int:
        with contexts[side]():
            return calibrate(functions[side], min_batch_s)

    number = max(calibrated("s"), calibrated("b"))
    subject_times, baseline_times, ratios = [], [], []
    for index in range(rounds):
        order = ("b", "s") if index % 2 else ("s", "b")
        times = {side: batch(side, number) for side in order}
        subject_times.append(times["s"])
        baseline_times.append(times["b"])
        ratios.append(times["s"] / times["b"])
    return Comparison(statistics.median(subject_times), statistics.median(baseline_times),
                      statistics.median(ratios))


def ratio_figure(group: str, name: str, result: Comparison, target: str | None,
                 subject_label: str, baseline_label: str, scale: float = 1000.0,
                 raw_unit: str = "ms", note_text: str = "") -> Figure:
    subject, baseline = result.subject_s * scale, result.baseline_s * scale
    detail = (f"{subject_label} {fmt(subject)} {raw_unit} "
              f"vs {baseline_label} {fmt(baseline)} {raw_unit}")
    if note_text:
        detail += f"; {note_text}"
    return Figure(group, name, result.ratio, "x", baseline=baseline, ratio=result.ratio,
                  target=target, subject=subject, raw_unit=raw_unit, detail=detail)


# -- data ---------------------------------------------------------------------

_built: dict[tuple[int, int], Layout] = {}


def initialize(layout: Layout) -> None:
    """What `hearth init` does, in-process: config, keys, encrypted database, migrations."""
    from appliance import keys, storage
    from appliance.config import write_default_config
    from appliance.migrations import migrate

    layout.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not layout.config_file.exists():
        write_default_config(layout.config_file)
    keys.ensure_keys(layout)
    database = storage.open_database(layout, create=True, check_schema=False)
    migrate(database)


def demo_data_dir(client_count: int = 10_000, seed: int = 2026) -> Layout:
    """A fresh data dir with the demo practice and `client_count` clients.

    Built once per process (groups in one `make bench` share it) in a temporary
    directory that is removed at exit. Leaves `appliance.storage.db` unlocked on
    it and closed.
    """
    from appliance import storage
    from webapp.demo import load_demo

    key = (client_count, seed)
    if key in _built:
        layout = _built[key]
        storage.open_database(layout)
        return layout
    root = Path(tempfile.mkdtemp(prefix=f"hearth-bench-{client_count}-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    layout = Layout(data_dir=root / "var", config_dir=root / "var")
    started = time.perf_counter()
    note(f"building a data dir with {client_count:,} demo clients in {root}")
    initialize(layout)
    load_demo(layout, seed=seed, client_count=client_count)
    if not storage.db.is_closed():
        storage.db.close()
    note(f"data dir ready in {time.perf_counter() - started:.0f} s")
    _built[key] = layout
    return layout


def demo_credentials(layout: Layout) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(layout.demo_credentials.read_text(encoding="utf-8"))
    return data


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
