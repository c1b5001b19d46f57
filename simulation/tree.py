"""In-memory laptop tree of the simulator: files, planted forms, JSON/JSONL/audit rendering, truth locations.

Owns serialisation and the line bookkeeping that makes truth.json equal a plain text search. It must not touch
the wall clock or any randomness other than the `random.Random` it is handed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from simulation.identity import Form, Subject, Trap

AUDIT_GENESIS = "audit-chain-genesis"


def compact(obj: object, *, ascii_only: bool = False) -> str:
    """Compact JSON as JSON.stringify writes it (no spaces); `ascii_only` writes ``\\uXXXX`` escapes."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=ascii_only)


def audit_mac(key: bytes, prev: str, obj: dict[str, object]) -> str:
    """HMAC of one audit line: hex HMAC-SHA256(key, prev_hex_ascii || compact UTF-8 JSON without `_audit_hmac`)."""
    body = {k: v for k, v in obj.items() if k != "_audit_hmac"}
    message = prev.encode("ascii") + compact(body).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def iso_ms(ms: int) -> str:
    """ISO-8601 UTC with milliseconds and a `Z`, as Claude Code writes `timestamp`."""
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def new_uuid(rng: random.Random) -> str:
    """A deterministic random (version 4) UUID string."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class Ctx:
    """Forms planted into one line (or one group of lines that repeat the same text).

    A context whose forms include a ``\\uXXXX``-escape form is rendered with ``ensure_ascii=True``; it then
    refuses raw non-ASCII forms (they would be escaped and no longer appear as planted), and vice versa.
    """

    def __init__(self, planter: Planter, *, text: bool = False) -> None:
        self.planter = planter
        self.text = text
        self.forms: list[tuple[Subject, Form]] = []

    @property
    def ascii(self) -> bool:
        """Whether lines of this context are written with ``ensure_ascii=True``."""
        return not self.text and any(f.ascii_json for _, f in self.forms)

    def use(self, subject: Subject, typ: str, *, form: str | None = None) -> str:
        """Pick the next form of `typ` for `subject`, record it, and return the text to embed.

        In a text context the literal is returned (an escape form is written as backslash text).
        """
        if self.text:
            chosen = self.planter.pick(subject, typ, form=form, allow_escape=True, allow_non_ascii=True)
        else:
            chosen = self.planter.pick(
                subject, typ, form=form, allow_escape=not self._has_raw_non_ascii(), allow_non_ascii=not self.ascii
            )
        self.forms.append((subject, chosen))
        return chosen.literal if self.text else chosen.text

    def _has_raw_non_ascii(self) -> bool:
        return any(not f.ascii_json and not f.literal.isascii() for _, f in self.forms)


class Planter:
    """Round-robin over each subject's forms per identifier type, so every form gets planted."""

    def __init__(self, forms: dict[str, dict[str, list[Form]]]) -> None:
        self.forms = forms
        self.counters: dict[tuple[str, str], int] = {}

    def pick(self, subject: Subject, typ: str, *, form: str | None, allow_escape: bool, allow_non_ascii: bool) -> Form:
        """Return the requested form, or the next acceptable one in round-robin order."""
        options = self.forms[subject.key][typ]
        if form is not None:
            forced = next(f for f in options if f.form == form)
            raw_non_ascii = not forced.ascii_json and not forced.literal.isascii()
            if (forced.ascii_json and not allow_escape) or (raw_non_ascii and not allow_non_ascii):
                raise RuntimeError(f"simulator bug: form {form} conflicts with the line's escaping")
            return forced
        start = self.counters.get((subject.key, typ), 0)
        for step in range(len(options)):
            candidate = options[(start + step) % len(options)]
            if candidate.ascii_json and not allow_escape:
                continue
            if not candidate.ascii_json and not candidate.literal.isascii() and not allow_non_ascii:
                continue
            self.counters[(subject.key, typ)] = start + step + 1
            return candidate
        raise RuntimeError(f"simulator bug: no form of {typ} fits the line's escaping")


@dataclass
class SimFile:
    """One file of a laptop tree, fully rendered."""

    path: str
    data: bytes
    mtime_ms: int
    kind: str
    session_id: str | None
    forms: list[tuple[Subject, Form]] = field(default_factory=list)
    traps: list[Trap] = field(default_factory=list)
    in_agent_store: bool = True


def render_json(obj: object, ctxs: list[Ctx]) -> bytes:
    """Pretty JSON (indent 2) as the desktop app writes records and per-org files."""
    ascii_only = any(c.ascii for c in ctxs)
    return (json.dumps(obj, indent=2, ensure_ascii=ascii_only) + "\n").encode("utf-8")


@dataclass
class Event:
    """A transcript event before its envelope is added."""

    body: dict[str, object]
    ctx: Ctx | None = None
    envelope: bool = True


def render_transcript(
    events: list[Event],
    *,
    rng: random.Random,
    session_id: str,
    cwd: str,
    entrypoint: str,
    start_ms: int,
    end_ms: int,
    sidechain: bool = False,
    agent_id: str | None = None,
) -> tuple[bytes, list[str]]:
    """Add the Claude Code envelope (uuid chain, timestamps spread start..end) and serialise as JSONL.

    Returns:
        The bytes and the uuids of enveloped lines (for summaries' `leafUuid`).
    """
    lines: list[str] = []
    uuids: list[str] = []
    parent: str | None = None
    count = max(len(events) - 1, 1)
    for index, event in enumerate(events):
        ts = start_ms + (end_ms - start_ms) * index // count
        body = dict(event.body)
        kind = body["type"]
        obj: dict[str, object]
        if event.envelope:
            uid = new_uuid(rng)
            obj = {
                "parentUuid": parent,
                "isSidechain": sidechain,
                "userType": "external",
                "cwd": cwd,
                "sessionId": session_id,
                "version": "2.0.31",
                "gitBranch": "main",
            }
            if agent_id is not None:
                obj["agentId"] = agent_id
            obj.update(body)
            obj["entrypoint"] = entrypoint
            obj["uuid"] = uid
            obj["timestamp"] = iso_ms(ts)
            parent = uid
            uuids.append(uid)
        elif kind in ("queue-operation",):
            obj = {**body, "timestamp": iso_ms(ts), "sessionId": session_id}
        elif kind == "summary":
            obj = {**body, "leafUuid": parent}
        elif kind == "file-history-snapshot":
            mid = new_uuid(rng)
            snapshot = body["snapshot"]
            snap = dict(snapshot) if isinstance(snapshot, dict) else {}
            snap["messageId"] = mid
            snap["timestamp"] = iso_ms(ts)
            obj = {"type": kind, "messageId": mid, "snapshot": snap, "isSnapshotUpdate": False}
        else:
            obj = {**body, "sessionId": session_id}
        lines.append(compact(obj, ascii_only=event.ctx.ascii if event.ctx else False))
    return ("\n".join(lines) + "\n").encode("utf-8"), uuids


def render_audit(
    events: list[Event], *, key: bytes | None, start_ms: int, end_ms: int, genesis: str = AUDIT_GENESIS
) -> bytes:
    """Serialise audit events with `_audit_timestamp` and, when `key` is given, the HMAC chain of section 4."""
    lines: list[str] = []
    prev = genesis
    count = max(len(events) - 1, 1)
    for index, event in enumerate(events):
        ts = start_ms + (end_ms - start_ms) * index // count
        obj = dict(event.body)
        obj["_audit_timestamp"] = iso_ms(ts)
        if key is not None:
            mac = audit_mac(key, prev, obj)
            obj["_audit_hmac"] = mac
            prev = mac
        lines.append(compact(obj, ascii_only=event.ctx.ascii if event.ctx else False))
    return ("\n".join(lines) + "\n").encode("utf-8")


def line_numbers(data: bytes, literal: bytes) -> list[int]:
    """1-based numbers of the raw lines (split on b"\\n") containing `literal`, each once."""
    found: list[int] = []
    pos = data.find(literal)
    line = 1
    scanned = 0
    while pos != -1:
        line += data.count(b"\n", scanned, pos)
        scanned = pos
        if not found or found[-1] != line:
            found.append(line)
        nl = data.find(b"\n", pos)
        if nl == -1:
            break
        pos = data.find(literal, nl)
    return found
