"""Hearth's benchmarks: `python -m bench.run [--only GROUP]` (what `make bench` calls).

Each group is a module `bench/bench_<group>.py` with `run() -> list[Figure]`;
bench/common.py has the Figure, the timing helpers, the result writer and the
demo data directory builder. Figures are medians on a shared, noisy machine:
compare ratios measured in the same run, not absolute numbers across runs.
"""
