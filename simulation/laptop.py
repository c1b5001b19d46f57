"""Builds one simulated laptop: every artifact kind of docs/histories.md for each OS user, with plants.

Owns the laptop layouts as the *simulator* writes them (connectors/layouts.py discovers them independently and
must not be imported here). Writes files as it goes; never reads the wall clock.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from simulation.identity import THIRD_PARTIES, Subject, ThirdParty, Trap
from simulation.noise import NoisePool
from simulation.tree import (
    AUDIT_GENESIS,
    Ctx,
    Event,
    Planter,
    SimFile,
    iso_ms,
    line_numbers,
    render_audit,
)

REFERENCE_DATE = datetime(2026, 11, 1, tzinfo=UTC)
REF_MS = int(REFERENCE_DATE.timestamp() * 1000)
DAY_MS = 86_400_000
STORE_FAMILY = "Claude_pzs8sxrjxfjjc"
MODEL = "claude-sonnet-4-5-20250929"


@dataclass(frozen=True)
class Account:
    """The Claude account an OS user is signed in with (a staff member or a data subject)."""

    email: str
    name: str
    uuid: str
    subject: Subject | None


@dataclass
class OSUser:
    """One OS user on a laptop and the roots the simulator writes for them."""

    name: str
    os: str
    home: str
    roots: list[str]
    account: Account
    org: tuple[str, str]
    active_ms: int
    full_sessions: int = 0


@dataclass
class Laptop:
    """One laptop tree under construction; files are written to disk as they are added."""

    name: str
    os: str
    variant: str
    base: Path
    rng: random.Random
    pool: NoisePool
    planter: Planter
    subjects: Sequence[Subject]
    users: list[OSUser] = field(default_factory=list)
    files: dict[str, SimFile] = field(default_factory=dict)
    locations: list[dict[str, object]] = field(default_factory=list)
    trap_locations: list[dict[str, object]] = field(default_factory=list)
    sessions: list[dict[str, object]] = field(default_factory=list)
    hardlinks: list[dict[str, object]] = field(default_factory=list)
    audit_keys: dict[str, str] = field(default_factory=dict)
    unsigned_audit_logs: list[str] = field(default_factory=list)
    agent_dirs: bool = False
    bytes_written: int = 0
    _subject_turn: int = 0

    # ---------------------------------------------------------------- plumbing

    def ctx(self, *, text: bool = False) -> Ctx:
        """A fresh planting context (`text=True` for text files, where escapes are written literally)."""
        return Ctx(self.planter, text=text)

    def subject(self, exclude: Sequence[Subject] = ()) -> Subject:
        """The next subject to mention, round robin, skipping `exclude`."""
        for _ in range(len(self.subjects)):
            chosen = self.subjects[self._subject_turn % len(self.subjects)]
            self._subject_turn += 1
            if chosen not in exclude:
                return chosen
        return self.subjects[0]

    def party(self) -> ThirdParty:
        """A third party to plant beside a subject."""
        return self.rng.choice(THIRD_PARTIES)

    def disk_path(self, path: str) -> Path:
        """Where a laptop path lives inside the tree (`/C:/Users/..` becomes the directory `C:`)."""
        return self.base / path.lstrip("/")

    def add(
        self,
        path: str,
        data: bytes,
        mtime_ms: int,
        kind: str,
        session_id: str | None,
        *,
        ctxs: Sequence[Ctx] = (),
        traps: Sequence[Trap] = (),
        in_agent_store: bool = True,
    ) -> None:
        """Write one file, set its mtime, and record the truth locations of everything planted in it."""
        if path in self.files:
            raise RuntimeError(f"simulator wrote {path} twice")
        forms = [pair for c in ctxs for pair in c.forms]
        sim = SimFile(path, b"", mtime_ms, kind, session_id, forms, list(traps), in_agent_store)
        self.files[path] = sim
        target = self.disk_path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        ns = mtime_ms * 1_000_000
        os.utime(target, ns=(ns, ns))
        self.bytes_written += len(data)
        self._locate(sim, data)

    def _locate(self, sim: SimFile, data: bytes) -> None:
        trap_lines: set[int] = set()
        for trap in sim.traps:
            lines = line_numbers(data, trap.literal.encode("utf-8"))
            if not lines:
                raise RuntimeError(f"simulator bug: trap {trap.form} not found in {sim.path}")
            for line in lines:
                trap_lines.add(line)
                self.trap_locations.append(
                    {
                        "subject": trap.subject,
                        "endpoint": self.name,
                        "path": sim.path,
                        "line": line,
                        "kind": sim.kind,
                        "form": trap.form,
                        "literal": trap.literal,
                        "session_id": sim.session_id,
                    }
                )
        seen: set[tuple[str, str]] = set()
        found_any = False
        for subject, form in sim.forms:
            if (subject.key, form.form) in seen:
                continue
            seen.add((subject.key, form.form))
            # a context may span lines of several files (a transcript and its audit mirror); a form absent
            # from this file is simply not a location here
            lines = line_numbers(data, form.literal.encode("utf-8"))
            found_any = found_any or bool(lines)
            for line in lines:
                if line in trap_lines:
                    raise RuntimeError(f"simulator bug: plant and trap share {sim.path}:{line}")
                self.locations.append(
                    {
                        "subject": subject.key,
                        "endpoint": self.name,
                        "path": sim.path,
                        "line": line,
                        "kind": sim.kind,
                        "form": form.form,
                        "literal": form.literal,
                        "session_id": self._line_session(sim, data, line),
                        "in_agent_store": sim.in_agent_store,
                    }
                )

    @staticmethod
    def _line_session(sim: SimFile, data: bytes, line: int) -> str | None:
        if sim.kind != "prompt_history":
            return sim.session_id
        raw = data.split(b"\n")[line - 1]
        value = json.loads(raw)
        sid = value.get("sessionId") if isinstance(value, dict) else None
        return sid if isinstance(sid, str) else None

    def link(self, source: str, target: str, session_id: str) -> None:
        """Hard-link `target` (an upload) to the already written `source` (the user's original)."""
        src = self.files[source]
        dst = self.disk_path(target)
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.link(self.disk_path(source), dst)
        self.files[target] = SimFile(target, b"", src.mtime_ms, "upload", session_id, src.forms, [], True)
        data = self.disk_path(source).read_bytes()
        self._locate(self.files[target], data)
        self.hardlinks.append({"endpoint": self.name, "paths": [target, source], "session_id": session_id})

    def finish(self) -> None:
        """Set every directory's mtime to the newest mtime below it (bottom-up), deterministically."""
        for dirpath, dirnames, filenames in os.walk(self.base, topdown=False):
            newest = 0
            for entry in (*dirnames, *filenames):
                newest = max(newest, os.lstat(os.path.join(dirpath, entry)).st_mtime_ns)
            if newest:
                os.utime(dirpath, ns=(newest, newest))

    # ---------------------------------------------------------------- time

    def times(self, *, min_age_days: float = 1.0, max_age_days: float = 3 * 365.0) -> tuple[int, int]:
        """Created / last-activity epoch ms of a session, spread over ~3 years before the reference date."""
        created = REF_MS - int(self.rng.uniform(min_age_days, max_age_days) * DAY_MS)
        created -= created % 1000 - self.rng.randrange(1000)
        span = int(self.rng.uniform(0.01, 12.0) * DAY_MS)
        last = min(created + span, REF_MS - 3_600_000)
        return created, max(last, created + 60_000)

    def add_session(
        self,
        user: OSUser,
        session_id: str,
        *,
        app: str,
        kind: str,
        account: Account,
        created: int,
        last: int,
        root: str,
        cli_ids: Sequence[str] = (),
    ) -> None:
        """Register a session for truth.json (its paths are collected from the files at the end)."""
        self.sessions.append(
            {
                "endpoint": self.name,
                "session_id": session_id,
                "os_user": user.name,
                "app": app,
                "type": kind,
                "root": root,
                "owner_email": account.email,
                "owner_subject": account.subject.key if account.subject else None,
                "created_at": iso_ms(created),
                "last_activity_at": iso_ms(last),
                "created_at_ms": created,
                "last_activity_at_ms": last,
                "cli_session_ids": list(cli_ids),
                "paths": [],
            }
        )


def slug_for(os_name: str, cwd: str) -> str:
    """Claude Code's project directory name for a working directory (path separators and dots to `-`)."""
    native = cwd
    if os_name == "windows" and cwd.startswith("/C:/"):
        native = "C:\\" + cwd[4:].replace("/", "\\")
    return "".join(ch if ch.isalnum() else "-" for ch in native)


def native_path(os_name: str, path: str) -> str:
    """A laptop path as the OS writes it in records (Windows uses drive letters and backslashes)."""
    if os_name == "windows" and path.startswith("/C:/"):
        return "C:\\" + path[4:].replace("/", "\\")
    return path


def hex_id(rng: random.Random, n: int) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


def tool_use_id(rng: random.Random) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789"
    return "toolu_01" + "".join(rng.choice(alphabet) for _ in range(22))


def assistant_body(rng: random.Random, blocks: list[dict[str, object]]) -> dict[str, object]:
    return {
        "type": "assistant",
        "requestId": "req_011C" + hex_id(rng, 20),
        "message": {
            "id": "msg_01" + hex_id(rng, 22),
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": blocks,
            "stop_reason": "end_turn" if blocks[-1]["type"] == "text" else "tool_use",
            "usage": {"input_tokens": rng.randint(5, 9000), "output_tokens": rng.randint(20, 4000)},
        },
    }


def user_body(content: object, tool_result: dict[str, object] | None = None) -> dict[str, object]:
    body: dict[str, object] = {"type": "user", "message": {"role": "user", "content": content}}
    if tool_result is not None:
        body["toolUseResult"] = tool_result
    return body


def noise_turn(lap: Laptop) -> list[Event]:
    """One ordinary prompt / tool call / answer exchange with no subject in it."""
    rng, pool = lap.rng, lap.pool
    tid = tool_use_id(rng)
    out = rng.choice(pool.outputs)
    return [
        Event(user_body(rng.choice(pool.prompts))),
        Event(
            assistant_body(
                rng,
                [
                    {
                        "type": "tool_use",
                        "id": tid,
                        "name": "Bash",
                        "input": {"command": rng.choice(pool.commands), "description": "Run it"},
                    }
                ],
            )
        ),
        Event(
            user_body(
                [{"type": "tool_result", "tool_use_id": tid, "content": out, "is_error": False}],
                {"stdout": out, "stderr": "", "interrupted": False, "isImage": False},
            )
        ),
        Event(assistant_body(rng, [{"type": "text", "text": rng.choice(pool.answers)}])),
    ]


def noise_audit(lap: Laptop, cli_id: str, turn: list[Event]) -> list[Event]:
    """The audit.jsonl mirror of a transcript turn (same text, Agent SDK event shape)."""
    mirrored: list[Event] = []
    for event in turn:
        body = event.body
        if body["type"] == "user":
            mirrored.append(
                Event(
                    {
                        "type": "user",
                        "message": body["message"],
                        "session_id": cli_id,
                        "parent_tool_use_id": None,
                        "client_platform": "desktop",
                    },
                    event.ctx,
                )
            )
        elif body["type"] == "assistant":
            mirrored.append(
                Event(
                    {"type": "assistant", "message": body["message"], "session_id": cli_id, "parent_tool_use_id": None},
                    event.ctx,
                )
            )
    return mirrored


def subject_lines(lap: Laptop, ctx: Ctx, subject: Subject, party: ThirdParty) -> str:
    """A CRM-like text block naming a subject beside a third party (used in tool output and uploads)."""
    return (
        f"contact: {ctx.use(subject, 'name')}\n"
        f"email: {ctx.use(subject, 'email')}   cc: {party.name} <{party.email}>\n"
        f"phone: {ctx.use(subject, 'phone')}   alt: {party.phone}\n"
        f"staff id: {ctx.use(subject, 'user_id')}   payout IBAN (third party): {party.iban}\n"
        f"last login from {party.ip}; card on file {party.card}\n"
    )


def write_audit(
    lap: Laptop,
    path: str,
    events: list[Event],
    *,
    start: int,
    end: int,
    session_id: str,
    signed: bool = True,
    genesis: str = AUDIT_GENESIS,
) -> None:
    """Write an audit.jsonl (HMAC-chained with a fresh per-session key, or unsigned legacy) plus `.audit-key`."""
    key = lap.rng.getrandbits(256).to_bytes(32, "big") if signed else None
    data = render_audit(events, key=key, start_ms=start, end_ms=end, genesis=genesis)
    ctxs = [e.ctx for e in events if e.ctx is not None]
    lap.add(path, data, end, "audit_log", session_id, ctxs=ctxs)
    if key is not None:
        lap.audit_keys[f"{lap.name}:{path}"] = key.hex()
        opaque = bytes(lap.rng.getrandbits(8) for _ in range(92))
        lap.add(path.rsplit("/", 1)[0] + "/.audit-key", opaque, end, "audit_key", session_id)
    else:
        lap.unsigned_audit_logs.append(f"{lap.name}:{path}")
