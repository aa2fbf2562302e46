"""Verifying the audit chain: `hearth audit verify` and the console's last result.

    report = verify(db, load_key(layout, AUDIT_KEY), layout.audit_checkpoints)
    report.ok, report.first_broken_id, report.findings

The walk starts after the newest validly signed "prune" checkpoint (or the
genesis) and checks, entry by entry in id order, that each mac is the HMAC of
the previous entry's stored mac and the entry's canonical form. Because each
entry is checked against its stored predecessor, one edit breaks one link and
the walk goes on, so several separate changes are all found. Then every
checkpoint, in the database and in the checkpoint file, must carry a good
signature and agree with the chain: a checkpoint beyond the chain's end means
entries were removed from the end.

Where a link breaks, the entries around it are examined to say what happened:
unsealed (no mac), inserted (the next entry chains over it), deleted (a gap in
the ids, the rest intact), edited (its mac is genuine, its fields are not),
reordered (its content and mac belong at another position); otherwise "changed,
inserted or removed near here".
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from webapp.audit import chain
from webapp.audit.checkpoints import Checkpoint, CheckpointError, read_file, stored_checkpoints
from webapp.core.timeutil import utcnow

MAX_FINDINGS = 20  # entries explained in detail; the count of broken links is complete
WINDOW = 24  # entries either side of a broken link that its explanation looks at


@dataclass
class Finding:
    kind: str  # unsealed, inserted, deleted, edited, reordered, broken, truncated,
    #            checkpoint, forged_checkpoint, checkpoint_file
    entry_id: int | None
    message: str

    def line(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclass
class Report:
    ok: bool = True
    entries: int = 0  # entries walked (those kept after the last prune)
    total: int = 0  # entries since the chain began, pruned ones included
    first_id: int | None = None
    last_id: int | None = None
    head: str = chain.GENESIS
    start: dict[str, Any] = field(default_factory=dict)  # where the walk began
    broken_links: int = 0
    first_broken_id: int | None = None
    findings: list[Finding] = field(default_factory=list)
    checkpoints_checked: int = 0
    last_checkpoint: dict[str, Any] | None = None
    seconds: float = 0.0
    verified_at: str = ""

    def add(self, kind: str, entry_id: int | None, message: str) -> None:
        self.ok = False
        self.findings.append(Finding(kind, entry_id, message))
        if entry_id is not None and (self.first_broken_id is None
                                     or entry_id < self.first_broken_id):
            self.first_broken_id = entry_id

    def summary(self) -> str:
        checkpoint = "no checkpoint yet"
        if self.last_checkpoint:
            cp = self.last_checkpoint
            checkpoint = (f"last checkpoint {cp['kind']} at entry {cp['entry_id']} "
                          f"({cp['created_at'][:19]} UTC)")
        if self.ok:
            return (f"audit chain intact: {self.total} entries, head {self.head[:16]}, "
                    f"{checkpoint} ({self.entries} checked in {self.seconds:.1f} s)")
        where = (f"first broken entry {self.first_broken_id}" if self.first_broken_id
                 is not None else self.findings[0].kind.replace("_", " "))
        return (f"audit chain BROKEN: {where}; "
                f"{len(self.findings)} finding(s), {self.broken_links} broken link(s) in "
                f"{self.entries} entries checked; {checkpoint}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def verify(database: Any, key: bytes, checkpoint_file: Path | None = None) -> Report:
    """Walk the whole kept chain and check every checkpoint; never changes anything."""
    started = time.perf_counter()
    report = Report(verified_at=utcnow().isoformat(timespec="seconds") + "Z")
    base = chain.signer(key)
    checkpoints = [(f"checkpoint #{row_id}", cp) for row_id, cp in stored_checkpoints(database)]
    if checkpoint_file is not None:
        try:
            checkpoints += [("the checkpoint file", cp) for cp in read_file(checkpoint_file)]
        except CheckpointError as exc:
            report.add("checkpoint_file", None, str(exc))
    valid: list[Checkpoint] = []
    for where, cp in checkpoints:
        if cp.signature_ok(key):
            valid.append(cp)
        else:
            report.add("forged_checkpoint", None,
                       f"{where} ({cp.kind} at entry {cp.entry_id}) has a bad signature: "
                       "it was not written by Hearth with this audit key")
    start_id, start_mac, start_count = 0, chain.GENESIS, 0
    prunes = [cp for cp in valid if cp.kind == "prune"]
    if prunes:
        newest = max(prunes, key=lambda cp: cp.entry_id)
        start_id, start_mac, start_count = newest.entry_id, newest.mac, newest.entry_count
        report.start = {"kind": "prune", "entry_id": start_id, "entry_count": start_count}
    else:
        report.start = {"kind": "genesis", "entry_id": 0, "entry_count": 0}
    stray = database.execute_sql("SELECT min(id) FROM audit_entry WHERE id <= ?",
                                 (start_id,)).fetchone()[0]
    if stray is not None:
        report.add("inserted", int(stray), f"entry {stray} lies before the prune checkpoint at "
                   f"entry {start_id}: it was inserted after pruning")

    expected = {cp.entry_id: cp for cp in valid if cp.entry_id > start_id}
    seen: dict[int, tuple[str, int]] = {}
    broken: list[int] = []
    previous = start_mac
    count = 0
    for entry_id, mac, good in chain.walk(database, base, start_id, start_mac):
        if not good:
            report.broken_links += 1
            if len(broken) < MAX_FINDINGS:
                broken.append(entry_id)
        count += 1
        if entry_id in expected:
            seen[entry_id] = (mac, start_count + count)
        if report.first_id is None:
            report.first_id = entry_id
        report.last_id = entry_id
        previous = mac
    report.entries, report.total = count, start_count + count
    report.head = previous
    for entry_id in broken:
        kind, message = explain(database, base, entry_id, start_id, start_mac)
        report.add(kind, entry_id, message)
    _check_checkpoints(report, valid, seen, start_id, start_mac, start_count)
    if valid:
        newest_cp = max(valid, key=lambda cp: (cp.created_at, cp.entry_id))
        report.last_checkpoint = asdict(newest_cp)
    report.seconds = time.perf_counter() - started
    return report


def _check_checkpoints(report: Report, valid: list[Checkpoint], seen: dict[int, tuple[str, int]],
                       start_id: int, start_mac: str, start_count: int) -> None:
    last = report.last_id if report.last_id is not None else start_id
    for cp in sorted({(cp.entry_id, cp.mac, cp.entry_count, cp.kind, cp.created_at): cp
                      for cp in valid}.values(), key=lambda cp: cp.entry_id):
        report.checkpoints_checked += 1
        label = f"the {cp.kind} checkpoint of {cp.created_at[:19]}"
        if cp.entry_id < start_id:
            continue  # covers entries pruned since; its signature is all there is to check
        if cp.entry_id == start_id:
            if (cp.mac, cp.entry_count) != (start_mac, start_count):
                report.add("checkpoint", cp.entry_id, f"{label} disagrees with the prune "
                           f"checkpoint at entry {start_id}")
            continue
        if cp.entry_id > last:
            missing = (f"entry {last + 1} was" if cp.entry_id == last + 1
                       else f"entries from entry {last + 1} to entry {cp.entry_id} were")
            report.add("truncated", last + 1, f"{missing} removed from the end: {label} "
                       f"covers entry {cp.entry_id} ({cp.entry_count} entries) but the trail "
                       f"ends at entry {last}")
            continue
        if cp.entry_id not in seen:
            report.add("deleted", cp.entry_id, f"entry {cp.entry_id}, covered by {label}, "
                       "is missing: it was removed")
            continue
        mac, count = seen[cp.entry_id]
        if mac != cp.mac:
            report.add("checkpoint", cp.entry_id, f"entry {cp.entry_id} no longer carries the "
                       f"mac {label} recorded: it was replaced")
        elif count != cp.entry_count:
            report.add("deleted" if count < cp.entry_count else "inserted", cp.entry_id,
                       f"{label} counted {cp.entry_count} entries up to entry {cp.entry_id}, "
                       f"the trail now has {count}: entries were "
                       f"{'removed' if count < cp.entry_count else 'added'} before it")


def explain(database: Any, base: chain.Signer, entry_id: int, start_id: int,
            start_mac: str) -> tuple[str, str]:
    """(kind, message) for the broken link at `entry_id`, from the entries around it."""
    cols = f"{chain.COLUMNS}, mac"
    before = database.execute_sql(
        f"SELECT {cols} FROM audit_entry WHERE id < ? AND id > ? ORDER BY id DESC LIMIT ?",
        (entry_id, start_id, WINDOW)).fetchall()[::-1]
    after = database.execute_sql(
        f"SELECT {cols} FROM audit_entry WHERE id >= ? ORDER BY id LIMIT ?",
        (entry_id, WINDOW + 1)).fetchall()
    window = before + after
    at = len(before)
    row = window[at]
    prev_id, prev_mac = (window[at - 1][0], window[at - 1][12]) if at else (start_id, start_mac)
    following = window[at + 1] if at + 1 < len(window) else None

    def links(entry: tuple[Any, ...], previous: Any) -> bool:
        try:
            return bool(base.hexdigest(chain.canonical(previous, entry[:12])) == entry[12])
        except (TypeError, ValueError):
            return False

    if row[12] == "":
        return "unsealed", (f"entry {entry_id} has no mac: it was written outside Hearth or "
                            "its mac was blanked")
    if following is not None and links(following, prev_mac):
        return "inserted", (f"entry {entry_id} is not part of the chain: entry {following[0]} "
                            f"follows entry {prev_id} directly; entry {entry_id} was inserted")
    genuine = following is None or links(following, row[12])
    if genuine and row[0] != prev_id + 1:
        missing = (f"entry {prev_id + 1} was" if row[0] == prev_id + 2
                   else f"entries {prev_id + 1}..{row[0] - 1} were")
        return "deleted", f"{missing} removed before entry {entry_id}"
    macs = [start_mac] + [other[12] for other in window]
    for other in window:
        if other[0] == row[0]:
            continue
        moved = (other[0], *row[1:])
        if any(links(moved, previous) for previous in macs):
            if other[12] == row[12]:
                return "inserted", (f"entry {entry_id} is a copy of entry {other[0]}: it was "
                                    "inserted")
            return "reordered", (f"entry {entry_id} holds the content and mac of entry "
                                 f"{other[0]}: entries were swapped or moved")
    if genuine and following is not None:
        return "edited", (f"entry {entry_id} was changed: its fields no longer match its mac")
    return "broken", (f"entry {entry_id} does not follow from entry {prev_id}: changed, "
                      "inserted or removed near here")


def verify_prefix(database: Any, key: bytes, entry_id: int) -> tuple[str, int]:
    """(mac, entries from the chain's start) at `entry_id`, if the chain verifies up to it.

    For pruning: raises CheckpointError when the entry is missing or a link before it
    is broken.
    """
    base = chain.signer(key)
    start_id, start_mac, count = chain.chain_start(database)
    if entry_id <= start_id:
        raise CheckpointError(f"entries up to {start_id} are already pruned")
    reached, previous = False, start_mac
    for current, mac, good in chain.walk(database, base, start_id, start_mac,
                                         until_id=entry_id):
        if not good:
            raise CheckpointError(f"the audit chain is broken at entry {current}; nothing "
                                  "was pruned: run 'hearth audit verify'")
        count += 1
        reached, previous = current == entry_id, mac
    if not reached:
        raise CheckpointError(f"there is no audit entry {entry_id}; nothing was pruned")
    return previous, count
