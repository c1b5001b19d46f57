"""Helpers for erasure tests on simulated fleets: discovery, planning, execution, plain text searches."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.base import TEMP_PREFIX
from connectors.local import LocalConnector
from detection.identifiers import SubjectIdentifiers
from detection.matcher import Matcher
from erasure.discovery import LocationDiscovery, discover_endpoint
from erasure.executor import ExecutionReport, KillHook, execute_plan
from erasure.plan import ErasurePlan, plan_erasure
from models.settings import ErasureSettings, HoldSettings
from proofs.ledger import Ledger
from proofs.store import JsonlLedgerStore
from simulation.fleet import simulate_fleet

REQUEST = "req-0001"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class SimulatedKill(BaseException):
    """Raised from a kill hook: the executor dies at that step (nothing catches a BaseException)."""


@dataclass
class Fleet:
    """A simulated fleet with its truth and the first subject's matcher."""

    out: Path
    truth: dict[str, Any]
    matcher: Matcher

    @property
    def endpoints(self) -> list[dict[str, Any]]:
        """The truth's endpoint entries."""
        return list(self.truth["endpoints"])

    def root(self, name: str) -> Path:
        """The tree of endpoint `name`."""
        return self.out / name

    def connector(self, name: str) -> LocalConnector:
        """A fresh local connector over endpoint `name`."""
        return LocalConnector(name, self.root(name))

    def discover(self) -> list[LocationDiscovery]:
        """Discovery of every endpoint for subject s1."""
        found = []
        for endpoint in self.endpoints:
            owners = [endpoint["owner"]] if endpoint["owner"] else []
            with self.connector(endpoint["name"]) as connector:
                found.append(discover_endpoint(connector, endpoint["name"], self.matcher, owner_ids=owners))
        return found

    def plan(
        self,
        *,
        holds: Sequence[HoldSettings] = (),
        settings: ErasureSettings | None = None,
        keys: set[str] | None = None,
    ) -> ErasurePlan:
        """A plan for subject s1 over the current trees."""
        return plan_erasure(
            REQUEST,
            self.discover(),
            settings=settings or ErasureSettings(),
            holds=holds,
            subject_hashes=keys or set(),
            now=NOW,
        )

    def execute(
        self, plan: ErasurePlan, ledger: Ledger, *, run_id: str = "run-1", kill: KillHook | None = None
    ) -> ExecutionReport:
        """Execute `plan` with local connectors over the trees."""
        return execute_plan(
            plan,
            connectors=self.connector,
            matcher=self.matcher,
            ledger=ledger,
            run_id=run_id,
            actor="tester",
            kill_hook=kill,
        )

    def files(self) -> dict[tuple[str, str], Path]:
        """Every regular file of every tree, keyed by (endpoint, laptop path)."""
        found: dict[tuple[str, str], Path] = {}
        for endpoint in self.endpoints:
            root = self.root(endpoint["name"])
            for directory, _dirs, names in os.walk(root):
                for name in names:
                    full = Path(directory) / name
                    if full.is_symlink() or not full.is_file():
                        continue
                    found[(endpoint["name"], "/" + full.relative_to(root).as_posix())] = full
        return found

    def digests(self) -> dict[tuple[str, str], str]:
        """sha256 of every file (convergence checks)."""
        return {key: hashlib.sha256(path.read_bytes()).hexdigest() for key, path in self.files().items()}

    def temp_files(self) -> list[Path]:
        """Leftover `.dsr-tmp-*` files."""
        return [p for p in self.files().values() if p.name.startswith(TEMP_PREFIX)]

    def subject_hits(self, plan: ErasurePlan) -> list[tuple[str, str, int, str]]:
        """Plain text search for every literal form of s1 (ASCII case-insensitive, plus upper/lower variants),
        outside the plan's exceptions, trap lines and the hard-linked originals outside the agent stores."""
        subject = self.truth["subjects"][0]
        literals = {f["literal"] for f in subject["forms"]}
        needles = {v.encode("utf-8").lower() for lit in literals for v in (lit, lit.lower(), lit.upper())}
        traps = {(t["endpoint"], t["path"], t["line"]) for t in self.truth["traps"]}
        originals = {(h["endpoint"], h["paths"][1]) for h in self.truth["hardlinks"]}
        kept = [(a.location, a.path) for a in plan.exceptions if a.path]
        hits = []
        for (endpoint, path), full in self.files().items():
            if (endpoint, path) in originals or any(
                endpoint == loc and (path == p or path.startswith(p.rstrip("/") + "/")) for loc, p in kept
            ):
                continue
            for number, line in enumerate(full.read_bytes().split(b"\n"), start=1):
                low = line.lower()
                for needle in needles:
                    if needle in low and (endpoint, path, number) not in traps:
                        hits.append((endpoint, path, number, needle.decode("utf-8", "replace")))
        return hits

    def third_party_mentions(self, skip_paths: set[tuple[str, str]]) -> dict[tuple[str, str, int], int]:
        """Count third parties' names and e-mails per line, outside s1's lines and the given files."""
        subject_lines = {(loc["endpoint"], loc["path"], loc["line"]) for loc in self.truth["locations"]}
        needles = [
            value.encode("utf-8")
            for person in self.truth["third_parties"]
            for value in (person["name"], person["email"])
        ]
        counts: dict[tuple[str, str, int], int] = {}
        for (endpoint, path), full in self.files().items():
            if (endpoint, path) in skip_paths:
                continue
            for number, line in enumerate(full.read_bytes().split(b"\n"), start=1):
                if (endpoint, path, number) in subject_lines:
                    continue
                found = sum(line.count(n) for n in needles)
                if found:
                    counts[(endpoint, path, number)] = found
        return counts


def make_fleet(out: Path, *, endpoints: int = 3, seed: int = 7) -> Fleet:
    """Simulate a small fleet and build subject s1's matcher from truth.json."""
    simulate_fleet(out, endpoints=endpoints, size_mb=0.05, seed=seed)
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    return Fleet(out, truth, subject_matcher(truth))


def subject_matcher(truth: dict[str, Any]) -> Matcher:
    """The matcher of the first planted subject of a simulated fleet's truth.json."""
    subject = truth["subjects"][0]
    ids = SubjectIdentifiers(
        emails=tuple(subject["emails"]),
        names=(subject["name"],),
        phones=tuple(subject["phones"]),
        user_ids=tuple(subject["user_ids"]),
    )
    return Matcher.from_identifiers(ids)


def new_ledger(path: Path) -> Ledger:
    """A JSONL-backed ledger without a signer."""
    return Ledger(JsonlLedgerStore(path))


def kill_at(step: str, nth: int) -> Callable[[str], None]:
    """A kill hook that raises `SimulatedKill` the `nth` time `step` is reached."""
    seen = {"count": 0}

    def hook(name: str) -> None:
        if name == step:
            seen["count"] += 1
            if seen["count"] == nth:
                raise SimulatedKill(step)

    return hook
