"""Hostile laptop trees and the guard that watches the real pipeline run over them (tests only).

Owns the synthetic subject, the laptop builder (a `file://` root beside an `outside` directory that stands
for other users' homes), the in-process audit-hook guard (opens, directory listings, writes, process
spawns) and the full discovery -> scan -> erasure run. Synthetic data only: invented names, `.invalid`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.base import Connector, Skipped
from connectors.layouts import Artifact, iter_artifacts
from connectors.local import LocalConnector
from detection.identifiers import SubjectIdentifiers
from detection.matcher import Matcher
from detection.scan import ScanResult, scan_endpoint
from erasure.discovery import LocationDiscovery, discover_endpoint
from erasure.executor import ActionOutcome, ExecutionReport, execute_plan
from erasure.plan import ErasurePlan, plan_erasure
from models.settings import ErasureSettings
from proofs.ledger import Ledger
from proofs.store import JsonlLedgerStore

SUBJECT_NAME = "Quillon Vextrabor"
SUBJECT_EMAIL = "q.vextrabor@mail.invalid"
CANARY = "CANARY-0ff5c0pe-7b1d"
"""Written (with the subject) into every file outside the root: it must never appear in a finding."""
ENDPOINT = "hostile"
REQUEST = "req-hostile"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
HOME = "home/ana"
PROJECT = f"{HOME}/.claude/projects/-home-ana-work"
CLI = "9a9a9a9a-0000-4000-8000-000000000002"
SYSTEM_CANARIES = ("/etc/passwd", "/etc/hostname", "/etc/shadow", "/etc/hosts")
"""Files hostile symlinks point at: never opened, never changed."""


def matcher() -> Matcher:
    """The synthetic subject's matcher."""
    return Matcher.from_identifiers(SubjectIdentifiers(emails=(SUBJECT_EMAIL,), names=(SUBJECT_NAME,)))


def subject_line(n: int) -> bytes:
    """A JSONL transcript record naming the subject."""
    record = {"type": "user", "timestamp": "2026-01-02T10:00:00Z", "message": {"content": f"mail {SUBJECT_EMAIL} #{n}"}}
    return json.dumps(record).encode() + b"\n"


def other_line(n: int) -> bytes:
    """A JSONL transcript record about nobody in particular."""
    record = {"type": "assistant", "timestamp": "2026-01-02T10:00:01Z", "message": {"content": f"weather #{n}"}}
    return json.dumps(record).encode() + b"\n"


def transcript(subject: int = 1, other: int = 3) -> bytes:
    """A transcript with `subject` lines naming the subject, then `other` lines that do not."""
    return b"".join([*(subject_line(i) for i in range(subject)), *(other_line(i) for i in range(other))])


def _digest_tree(path: Path) -> dict[str, tuple[str, int]]:
    """(sha256 or link target, mode) of every entry under `path`, without following links."""
    found: dict[str, tuple[str, int]] = {}
    for directory, dirs, names in os.walk(path):
        for name in [*dirs, *names]:
            full = os.path.join(directory, name)
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                found[full] = ("->" + os.readlink(full), st.st_mode)
            elif stat.S_ISREG(st.st_mode):
                found[full] = (hashlib.sha256(Path(full).read_bytes()).hexdigest(), st.st_mode)
            else:
                found[full] = ("", st.st_mode)
    return found


def _system_digests() -> dict[str, str | None]:
    digests: dict[str, str | None] = {}
    for name in SYSTEM_CANARIES:
        try:
            digests[name] = hashlib.sha256(Path(name).read_bytes()).hexdigest()
        except OSError:
            digests[name] = None
    return digests


@dataclass
class Laptop:
    """A `file://` laptop root with an `outside` sibling (another user's home, never in scope)."""

    base: Path
    root: Path
    outside: Path

    def path(self, laptop_path: str) -> Path:
        """The real path of a laptop path (`home/ana/...`, without the leading slash)."""
        return self.root / laptop_path.lstrip("/")

    def write(self, laptop_path: str, data: bytes) -> Path:
        """Create a file (and its parents) under the root."""
        full = self.path(laptop_path)
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_bytes(data)
        return full

    def connector(self, name: str = ENDPOINT) -> Connector:
        """A fresh local connector over the root."""
        return LocalConnector(name, self.root)

    def outside_snapshot(self) -> tuple[dict[str, tuple[str, int]], dict[str, str | None]]:
        """Everything outside the root a hostile tree points at: the outside tree and the system canaries."""
        return _digest_tree(self.outside), _system_digests()


def make_laptop(tmp_path: Path) -> Laptop:
    """A Linux laptop with one ordinary transcript, and another user's home outside the root naming the subject."""
    base = tmp_path.resolve()
    root = base / "laptop"
    outside = base / "outside"
    laptop = Laptop(base, root, outside)
    laptop.write(f"{PROJECT}/{CLI}.jsonl", transcript())
    bob = outside / "home" / "bob" / ".claude"
    (bob / "projects" / "-home-bob").mkdir(parents=True)
    secret = f'{{"display": "{SUBJECT_EMAIL} {CANARY}"}}\n'.encode()
    (bob / "history.jsonl").write_bytes(secret)
    (bob / "projects" / "-home-bob" / "b.jsonl").write_bytes(secret + subject_line(9))
    return laptop


# ---------------------------------------------------------------------------------------------------------
# The guard: a process-wide audit hook, active only inside `guard()`.
# ---------------------------------------------------------------------------------------------------------

_SPAWN_EVENTS = frozenset(
    {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "pty.spawn"}
)
_WRITE_EVENTS = frozenset(
    {"os.remove", "os.rmdir", "os.rename", "os.mkdir", "os.chmod", "os.chown", "os.utime", "os.truncate",
     "os.link", "os.symlink", "shutil.rmtree", "shutil.move", "shutil.copyfile"}
)  # fmt: skip
_LIST_EVENTS = frozenset({"os.listdir", "os.scandir", "glob.glob"})
_NOFOLLOW_EVENTS = frozenset({"os.remove", "os.rmdir", "os.rename", "os.link", "os.symlink"})


@dataclass
class Guard:
    """What the pipeline did that it must never do: read, list or write outside the root, or spawn a process."""

    root: str
    outside: str
    events: list[tuple[str, str]] = field(default_factory=list)
    spawns: list[tuple[str, str]] = field(default_factory=list)
    active: bool = True

    def _resolved(self, path: str, *, final_followed: bool) -> str:
        path = os.path.abspath(path)
        if not final_followed:
            return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
        return os.path.realpath(path)

    def _escapes(self, path: str, *, final_followed: bool) -> bool:
        resolved = self._resolved(path, final_followed=final_followed)
        if resolved in SYSTEM_CANARIES or _under(resolved, self.outside):
            return True
        # A path given under the root must stay under it once resolved.
        return _under(os.path.abspath(path), self.root) and not _under(resolved, self.root)

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.active:
            return
        if event in _SPAWN_EVENTS:
            self.spawns.append((event, repr(args)[:200]))
            return
        if event == "open":
            path, _mode, flags = args
            if not isinstance(path, str | bytes) or isinstance(flags, str):
                return
            spath = os.fsdecode(path)
            followed = not (isinstance(flags, int) and flags & os.O_NOFOLLOW)
            if self._escapes(spath, final_followed=followed):
                self.events.append(("open", spath))
        elif event in _LIST_EVENTS or event in _WRITE_EVENTS:
            for arg in args[:2]:
                if isinstance(arg, str | bytes) and arg:
                    spath = os.fsdecode(arg)
                    if self._escapes(spath, final_followed=event not in _NOFOLLOW_EVENTS):
                        self.events.append((event, spath))

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Let the test itself touch the tree (swaps between plan and execution)."""
        self.active = False
        try:
            yield
        finally:
            self.active = True


def _under(path: str, base: str) -> bool:
    return path == base or path.startswith(base.rstrip(os.sep) + os.sep)


_CURRENT: list[Guard] = []


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if _CURRENT:
        _CURRENT[-1](event, args)


_INSTALLED: list[bool] = []


@contextlib.contextmanager
def guard(laptop: Laptop) -> Iterator[Guard]:
    """Watch the process (audit hooks) while the body runs; the hook is installed once per process."""
    if not _INSTALLED:
        sys.addaudithook(_hook)
        _INSTALLED.append(True)
    watcher = Guard(str(laptop.root), str(laptop.outside))
    _CURRENT.append(watcher)
    try:
        yield watcher
    finally:
        _CURRENT.remove(watcher)


# ---------------------------------------------------------------------------------------------------------
# The whole pipeline
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Run:
    """What every stage produced, and what the guard saw."""

    entries: list[Artifact | Skipped]
    scan: ScanResult
    discovery: LocationDiscovery
    plan: ErasurePlan
    report: ExecutionReport
    guard: Guard
    ledger: Ledger

    @property
    def artifacts(self) -> list[Artifact]:
        """Artifacts discovered (not skipped)."""
        return [e for e in self.entries if not isinstance(e, Skipped)]

    @property
    def skipped(self) -> list[Skipped]:
        """Every Skipped entry of discovery and the scan."""
        return [e for e in self.entries if isinstance(e, Skipped)] + list(self.scan.skipped)

    def reasons(self) -> dict[str, str]:
        """Skipped path -> reason."""
        return {s.path: s.reason for s in self.skipped}

    def outcome(self, path: str) -> ActionOutcome:
        """The outcome of the (single) action on a laptop path."""
        found = [o for o in self.report.outcomes if o.path == path]
        assert len(found) == 1, (path, [(o.path, o.kind) for o in self.report.outcomes])
        return found[0]

    def finding_paths(self) -> set[str]:
        """Paths of every finding item."""
        return {item.path for item in self.scan.items}

    def contents(self) -> str:
        """Every finding's content, joined (canary checks)."""
        return "\n".join(str(item.content) for item in self.scan.items)


def run_pipeline(
    laptop: Laptop,
    *,
    owner_ids: Sequence[str] = (),
    between: Callable[[ErasurePlan], None] | None = None,
    connect: Callable[[str], Connector] | None = None,
) -> Run:
    """Discover, scan, plan and execute an erasure for the subject over `laptop`, under the guard.

    `between` runs (unguarded) after planning and before execution: the time-of-check to time-of-use window.
    `connect` replaces the local connector (SSH tests).
    """
    subject = matcher()
    opener = connect or laptop.connector
    ledger = Ledger(JsonlLedgerStore(laptop.base / "ledger.jsonl"))
    with guard(laptop) as watcher:
        with opener(ENDPOINT) as conn:
            entries = list(iter_artifacts(conn))
            scan = scan_endpoint(conn, ENDPOINT, subject, owner_ids=owner_ids, classify=False)
            discovery = discover_endpoint(conn, ENDPOINT, subject, owner_ids=owner_ids)
        plan = plan_erasure(REQUEST, [discovery], settings=ErasureSettings(), holds=[], subject_hashes=set(), now=NOW)
        if between is not None:
            with watcher.paused():
                between(plan)
        report = execute_plan(plan, connectors=opener, matcher=subject, ledger=ledger, run_id="run-1", actor="tester")
    return Run(entries, scan, discovery, plan, report, watcher, ledger)


Snapshot = tuple[dict[str, tuple[str, int]], dict[str, str | None]]


def assert_contained(laptop: Laptop, run: Run, before: Snapshot) -> None:
    """Nothing outside the root was read, listed, written or executed; no outside content reached a finding."""
    assert run.guard.events == [], run.guard.events[:5]
    assert run.guard.spawns == [], run.guard.spawns[:5]
    assert laptop.outside_snapshot() == before, "something outside the root changed"
    assert CANARY not in run.contents(), "content from outside the root reached a finding"
    assert all(_under(str(laptop.root) + p, str(laptop.root)) for p in run.finding_paths())
