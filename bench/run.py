"""Run the benchmark groups: `python -m bench.run [--only GROUP]` (what `make bench` calls).

A group is a module bench/bench_<group>.py with `run() -> list[Figure]`; adding
the file registers the group. Groups run in the order of GROUP_ORDER, then any
others alphabetically. Each figure is printed as one line and appended to
bench/results.jsonl as soon as its group finishes.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
import traceback

from bench.common import RESULTS, Figure, note, write_results

# Cheap groups first; later issues add theirs by adding a module.
GROUP_ORDER = ["storage", "web", "identity", "audit", "scheduling", "clinical", "backups",
               "telehealth"]


def available_groups() -> list[str]:
    import bench

    found = [info.name.removeprefix("bench_") for info in pkgutil.iter_modules(bench.__path__)
             if info.name.startswith("bench_")]
    ordered = [name for name in GROUP_ORDER if name in found]
    return ordered + sorted(set(found) - set(ordered))


def run_group(name: str) -> list[Figure]:
    module = importlib.import_module(f"bench.bench_{name}")
    figures: list[Figure] = module.run()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    # nargs="?": `make bench` passes `--only $(ONLY)`, which is a bare `--only` when unset.
    parser.add_argument("--only", nargs="?", const="", default="",
                        help="run one group (default: all)")
    parser.add_argument("--list", action="store_true", help="list the groups and exit")
    args = parser.parse_args(argv)
    groups = available_groups()
    if args.list:
        print("\n".join(groups))
        return 0
    if args.only:
        if args.only not in groups:
            print(f"unknown benchmark group {args.only!r}; groups: {', '.join(groups)}",
                  file=sys.stderr)
            return 2
        groups = [args.only]
    failed = []
    for name in groups:
        started = time.perf_counter()
        note(f"group {name}")
        try:
            figures = run_group(name)
        except Exception:
            traceback.print_exc()
            print(f"{name}  FAILED  (see the traceback above; no figures recorded)", flush=True)
            failed.append(name)
            continue
        write_results(figures)
        for figure in figures:
            print(figure.line(), flush=True)
        note(f"group {name} took {time.perf_counter() - started:.0f} s")
    note(f"results appended to {RESULTS}")
    if failed:
        print(f"benchmark groups that failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
