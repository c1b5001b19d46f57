# ruff: noqa: E501 - synthetic records stay one per line, as the agents write them
"""Realistic stores of the other AI agents (Codex, Gemini CLI, Cursor, Copilot Chat, Cline, Aider, Continue,
Zed, OpenCode, Windsurf, ChatGPT desktop) on one simulated home, with their truth.

Writes each agent's files in its own format (JSONL, JSON, Markdown, SQLite with a WAL, zstd) with the
subject planted in some records, third parties in others, and look-alike traps; returns where each
planted mention is (`line` for text, `record` for database rows). Synthetic data only.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zstandard

__all__ = ["AgentPlant", "AgentTruth", "write_agent_stores"]

SID = "0199aaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
SID2 = "0199ffff-1111-4222-8333-444444444444"


@dataclass(frozen=True)
class AgentPlant:
    """Who is planted: the subject's e-mail and name, a third party's, and a trap (a look-alike e-mail)."""

    subject_email: str = "maria.keller@example.invalid"
    subject_name: str = "Maria Keller"
    third_email: str = "jan.novak@example.invalid"
    third_name: str = "Jan Novak"
    trap_email: str = "maria.kellerman@example.invalid"


@dataclass
class AgentTruth:
    """Where the subject, third parties and traps were planted (laptop paths)."""

    subject: list[dict[str, object]] = field(default_factory=list)
    third_party: list[dict[str, object]] = field(default_factory=list)
    traps: list[dict[str, object]] = field(default_factory=list)
    encrypted: list[str] = field(default_factory=list)
    shadow_git: list[str] = field(default_factory=list)  # repositories holding only third parties (kept)


def _git_blob(w: _Writer, git_dir: str, content: bytes) -> str:
    """Write a git repository holding `content` as one loose blob (as git writes it: zlib of `blob <n>\\0...`);
    returns the object's path relative to the home."""
    raw = b"blob %d\x00" % len(content) + content
    digest = hashlib.sha1(raw, usedforsecurity=False).hexdigest()
    w.write(f"{git_dir}/HEAD", b"ref: refs/heads/main\n")
    rel = f"{git_dir}/objects/{digest[:2]}/{digest[2:]}"
    w.write(rel, zlib.compress(raw))
    return rel


def _dumps(value: object, **options: Any) -> str:
    """JSON as the agents write it: non-ASCII characters unescaped."""
    return json.dumps(value, ensure_ascii=False, **options)


def _jsonl(rows: Sequence[object]) -> bytes:
    return b"".join(_dumps(r, separators=(",", ":")).encode() + b"\n" for r in rows)


class _Writer:
    def __init__(self, root: Path, home: str, app: str, truth: AgentTruth, plant: AgentPlant) -> None:
        self.root, self.home, self.app, self.truth, self.plant = root, home, app, truth, plant

    def path(self, rel: str) -> str:
        return f"{self.home}/{rel}"

    def write(self, rel: str, data: bytes) -> Path:
        target = self.root / self.path(rel).lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return target

    def lines(self, rel: str, data: bytes) -> None:
        """Write a text file and record the line of every planted value in it."""
        self.write(rel, data)
        p = self.plant
        for number, line in enumerate(data.split(b"\n"), start=1):
            low = line.decode("utf-8", "replace")
            if p.subject_email in low or p.subject_name in low:
                self.truth.subject.append({"app": self.app, "path": self.path(rel), "line": number})
            if p.third_email in low:
                self.truth.third_party.append({"app": self.app, "path": self.path(rel), "line": number})
            if p.trap_email in low:
                self.truth.traps.append({"app": self.app, "path": self.path(rel), "line": number})

    def database(self, rel: str, schema: str, rows: dict[str, list[tuple[object, ...]]], *, wal: bool) -> None:
        """Create a SQLite database (left with a non-empty WAL when `wal`) and record planted rows."""
        target = self.root / self.path(rel).lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(target)
        if wal:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA wal_autocheckpoint=0")
        con.executescript(schema)
        con.commit()
        for table, values in rows.items():
            for row in values:
                con.execute(f"INSERT INTO {table} VALUES ({','.join('?' * len(row))})", row)  # noqa: S608 - fixed tables
        con.commit()
        p = self.plant
        for table, key_sql in _KEYS.get(rel.rsplit("/", 1)[-1], {}).items():
            for key, *cells in con.execute(key_sql):
                text = " ".join(_cell_text(c) for c in cells)
                record = f"{table}:{key}"
                if p.subject_email in text or p.subject_name in text:
                    self.truth.subject.append({"app": self.app, "path": self.path(rel), "record": record})
                if p.third_email in text:
                    self.truth.third_party.append({"app": self.app, "path": self.path(rel), "record": record})
        if wal:
            # Leave the last rows only in the WAL, as a running app does: copy the files while open.
            snapshot = target.parent / f".{target.name}.snap"
            snapshot.mkdir()
            for suffix in ("", "-wal"):
                source = target.with_name(target.name + suffix)
                if source.exists():
                    (snapshot / (target.name + suffix)).write_bytes(source.read_bytes())
            con.close()
            for suffix in ("", "-wal"):
                kept = snapshot / (target.name + suffix)
                if kept.exists():
                    target.with_name(target.name + suffix).write_bytes(kept.read_bytes())
                    kept.unlink()
            snapshot.rmdir()
            shm = target.with_name(target.name + "-shm")
            if shm.exists():
                shm.unlink()
        else:
            con.close()


def _cell_text(cell: object) -> str:
    if isinstance(cell, bytes):
        if cell.startswith(b"\x28\xb5\x2f\xfd"):
            cell = zstandard.ZstdDecompressor().decompress(cell)
        return cell.decode("utf-8", "replace")
    return "" if cell is None else str(cell)


_KEYS: dict[str, dict[str, str]] = {
    "state_5.sqlite": {
        "threads": "SELECT id, title, first_user_message FROM threads",
        "thread_search": "SELECT rowid, body FROM thread_search",
    },
    "state.vscdb": {
        "cursorDiskKV": "SELECT key, value FROM cursorDiskKV",
        "ItemTable": "SELECT key, value FROM ItemTable",
    },
    "threads.db": {"threads": "SELECT id, summary, data FROM threads"},
    "store.db": {"blobs": "SELECT id, data FROM blobs"},
    "opencode.db": {
        "session": "SELECT id, title FROM session",
        "part": "SELECT id, data FROM part",
    },
}


def write_agent_stores(root: Path, home: str, os_name: str, plant: AgentPlant | None = None) -> AgentTruth:
    """Write every covered agent's store under `home` (a laptop path inside the tree at `root`).

    Args:
        root: the directory standing for the laptop's `/`.
        home: the home directory (`/Users/ana`, `/C:/Users/ana`, `/home/ana`).
        os_name: "macos" | "windows" | "linux" (chooses the VS Code-family and Zed roots).
        plant: who to plant (defaults to invented people).

    Returns:
        The truth: each planted mention's path and line or record.
    """
    plant = plant or AgentPlant()
    truth = AgentTruth()
    s_mail, s_name, t_mail, t_name, trap = (
        plant.subject_email, plant.subject_name, plant.third_email, plant.third_name, plant.trap_email,
    )  # fmt: skip
    user_dir = {
        "macos": "Library/Application Support/{app}/User",
        "windows": "AppData/Roaming/{app}/User",
        "linux": ".config/{app}/User",
    }[os_name]
    zed_data = {"macos": "Library/Application Support/Zed", "windows": "AppData/Local/Zed", "linux": ".local/share/zed"}

    # Codex: rollout (plain and zstd), prompt history, state database with FTS.
    w = _Writer(root, home, "codex", truth, plant)
    rollout = [
        {"timestamp": "2026-03-02T09:14:09.000Z", "type": "session_meta", "payload": {"id": SID, "cwd": f"{home}/app"}},
        {"timestamp": "2026-03-02T09:14:09.400Z", "type": "response_item", "payload": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": f"Find {s_name} ({s_mail}) in seed.sql"}]}},
        {"timestamp": "2026-03-02T09:14:11.010Z", "type": "response_item", "payload": {"type": "function_call", "name": "shell", "arguments": _dumps({"command": ["rg", "-n", s_mail]}), "call_id": "c1"}},
        {"timestamp": "2026-03-02T09:14:12.000Z", "type": "event_msg", "payload": {"type": "agent_message", "message": f"Also found {t_name} <{t_mail}>"}},
        {"timestamp": "2026-03-02T09:14:13.000Z", "type": "event_msg", "payload": {"type": "agent_message", "message": f"Unrelated: {trap}"}},
    ]  # fmt: skip
    w.lines(f".codex/sessions/2026/03/02/rollout-2026-03-02T09-14-09-{SID}.jsonl", _jsonl(rollout))
    zst = _jsonl(rollout[:2])
    zrel = f".codex/archived_sessions/rollout-2026-01-05T10-00-00-{SID2}.jsonl.zst"
    w.write(zrel, zstandard.ZstdCompressor(level=3).compress(zst))
    truth.subject.append({"app": "codex", "path": w.path(zrel), "line": 2})
    w.lines(".codex/history.jsonl", _jsonl([
        {"conversation_id": SID, "ts": 1772442849, "text": f"Find {s_name} in seed.sql"},
        {"conversation_id": SID, "ts": 1772442850, "text": f"mail {t_mail}"},
    ]))  # fmt: skip
    w.database(
        ".codex/state_5.sqlite",
        "CREATE TABLE threads(id TEXT PRIMARY KEY, rollout_path TEXT, created_at INTEGER, updated_at INTEGER,"
        " title TEXT, first_user_message TEXT);"
        "CREATE VIRTUAL TABLE thread_search USING fts5(thread_id UNINDEXED, body);",
        {
            "threads": [
                (SID, "rollout", 1772442849, 1772442853, f"Find {s_name}", f"Find {s_name} ({s_mail})"),
                (SID2, "rollout", 1772442000, 1772442001, f"Invoice for {t_name}", f"mail {t_mail}"),
            ],
            "thread_search": [(SID, f"Find {s_name} ({s_mail}) in seed.sql"), (SID2, f"Invoice {t_name} {t_mail}")],
        },
        wal=True,
    )

    # Gemini CLI: JSONL chat, legacy pretty JSON chat, logs.json.
    w = _Writer(root, home, "gemini-cli", truth, plant)
    w.lines(".gemini/tmp/my-app/chats/session-2026-05-04T08-00-3f2b0c1d.jsonl", _jsonl([
        {"sessionId": "3f2b0c1d-0000-4000-8000-000000000001", "projectHash": "9c1e", "startTime": "2026-05-04T08:00:00.000Z", "kind": "main"},
        {"id": "a1", "timestamp": "2026-05-04T08:00:05.000Z", "type": "user", "content": [{"text": f"Email {s_name} ({s_mail}) the invoice"}]},
        {"id": "b2", "timestamp": "2026-05-04T08:00:07.000Z", "type": "gemini", "content": f"Copied {t_name} {t_mail}"},
        {"$set": {"summary": f"Invoice e-mail for {s_name}"}},
    ]))  # fmt: skip
    legacy = {
        "sessionId": "aa",
        "messages": [{"type": "user", "content": f"Call {s_name}"}, {"type": "user", "content": trap}],
    }
    w.lines(".gemini/tmp/9c1e5a/chats/session-2025-11-01T10-00-aaaaaaaa.json", _dumps(legacy, indent=2).encode())
    w.lines(".gemini/tmp/my-app/logs.json", _dumps([
        {"sessionId": "3f2b", "messageId": 0, "timestamp": "2026-05-04T08:00:05.000Z", "type": "user", "message": f"Email {s_mail}"},
        {"sessionId": "3f2b", "messageId": 1, "timestamp": "2026-05-04T08:00:06.000Z", "type": "user", "message": f"cc {t_mail}"},
    ], indent=2).encode())  # fmt: skip

    # Cursor: global state.vscdb with cursorDiskKV bubbles (TEXT and BLOB values) and its .backup copy.
    w = _Writer(root, home, "cursor", truth, plant)
    cursor_db = user_dir.format(app="Cursor") + "/globalStorage/state.vscdb"
    bubble = {
        "_v": 3,
        "type": 1,
        "bubbleId": "b1",
        "text": f"Why does login fail for {s_mail}?",
        "createdAt": "2026-02-11T10:03:04.120Z",
    }
    other = {"_v": 3, "type": 2, "bubbleId": "b2", "text": f"{t_name} ({t_mail}) failed MFA"}
    kv_blob = _dumps({"role": "tool", "content": f"CRM record: {s_name} <{s_mail}>"}).encode()
    for rel in (cursor_db, cursor_db + ".backup"):
        w.database(
            rel,
            "CREATE TABLE ItemTable(key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB);"
            "CREATE TABLE cursorDiskKV(key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB);",
            {
                "cursorDiskKV": [
                    ("bubbleId:c1:b1", _dumps(bubble, separators=(",", ":"))),
                    ("bubbleId:c1:b2", _dumps(other, separators=(",", ":")).encode()),
                    (f"agentKv:blob:{hashlib.sha256(kv_blob).hexdigest()}", kv_blob),  # content-addressed
                    (
                        "composerData:c1",
                        _dumps({"composerId": "c1", "name": "Login bug", "lastUpdatedAt": 1772442000000}),
                    ),
                ],
                "ItemTable": [
                    ("aiService.prompts", _dumps([{"text": f"ask {s_name}", "commandType": 4}])),
                    # Kilo Code installed in Cursor keeps its task index in the editor's global state.
                    (
                        "kilocode.kilo-code",
                        _dumps(
                            {
                                "taskHistory": [
                                    {"id": "1772442100000", "ts": 1772442100000, "task": f"Draft a reply to {s_mail}"}
                                ]
                            }
                        ),
                    ),
                ],
            },
            wal=False,
        )
        if rel.endswith(".backup"):
            for entry in [e for e in truth.subject + truth.third_party if e.get("path") == w.path(cursor_db)]:
                copy = dict(entry, path=w.path(rel))
                (truth.subject if entry in truth.subject else truth.third_party).append(copy)

    # Cursor Agent CLI: one content-addressed store per chat (blobs keyed by the hash of their content).
    w = _Writer(root, home, "cursor", truth, plant)
    blob = _dumps({"role": "user", "content": f"Look up the order of {s_name}"}).encode()
    w.database(
        ".cursor/chats/5d41402a/6b1f0c2e-0000-4000-8000-000000000001/store.db",
        "CREATE TABLE blobs(id TEXT PRIMARY KEY, data BLOB); CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);",
        {"blobs": [(hashlib.sha256(blob).hexdigest(), blob)], "meta": [("0", "{}")]},
        wal=False,
    )

    # Copilot Chat (VS Code): operation-log session.
    w = _Writer(root, home, "copilot", truth, plant)
    w.lines(user_dir.format(app="Code") + "/workspaceStorage/ws1/chatSessions/5c0e0000-0000-4000-8000-000000000001.jsonl", _jsonl([
        {"kind": 0, "v": {"version": 3, "sessionId": "5c0e", "creationDate": 1772442000000, "requests": []}},
        {"kind": 2, "k": ["requests"], "v": [{"requestId": "r1", "timestamp": 1772442005000, "message": {"text": f"Summarise the ticket from {s_name} <{s_mail}>", "parts": []}, "response": []}]},
        {"kind": 1, "k": ["customTitle"], "v": f"Ticket from {t_name}"},
    ]))  # fmt: skip

    # Cline: one-line JSON task files.
    w = _Writer(root, home, "cline", truth, plant)
    task = user_dir.format(app="Code") + "/globalStorage/saoudrizwan.claude-dev/tasks/1772442000000"
    w.lines(f"{task}/ui_messages.json", _dumps([
        {"ts": 1772442000000, "type": "say", "say": "task", "text": f"Fix the address for {s_name}, Hauptstr. 5"},
        {"ts": 1772442003000, "type": "say", "say": "api_req_started", "text": _dumps({"request": f"<task>{t_name}</task>"})},
    ], separators=(",", ":")).encode())  # fmt: skip
    # Roo Code and Kilo Code: the same task files under their own extension folders (named as themselves).
    for app, ext in (("roo-code", "rooveterinaryinc.roo-cline"), ("kilo-code", "kilocode.kilo-code")):
        w = _Writer(root, home, app, truth, plant)
        task = user_dir.format(app="Code") + f"/globalStorage/{ext}/tasks/1772442100000"
        w.lines(f"{task}/api_conversation_history.json", _dumps([
            {"role": "user", "content": [{"type": "text", "text": f"Draft a reply to {s_mail} about the invoice"}]},
            {"role": "assistant", "content": [{"type": "text", "text": f"Done; {t_name} was copied in."}]},
        ], separators=(",", ":")).encode())  # fmt: skip

    # Aider: Markdown history in a repository.
    w = _Writer(root, home, "aider", truth, plant)
    w.lines("code/shop/.aider.chat.history.md", (
        "# aider chat started at 2026-04-02 14:10:22\n\n"
        f"#### rename the field for {s_name}'s account {s_mail}\n\n"
        f"I'll update `app/users.py`, leaving {t_name} alone.\n"
    ).encode())  # fmt: skip

    # Continue: session JSON.
    w = _Writer(root, home, "continue", truth, plant)
    w.lines(".continue/sessions/7d100000-0000-4000-8000-000000000001.json", _dumps({
        "sessionId": "7d1", "title": f"Refund for {s_name}",
        "history": [{"message": {"role": "user", "content": f"Refund {s_name}, cc {t_mail}"}, "contextItems": []}],
    }, indent=2).encode())  # fmt: skip

    # Zed: threads.db with a zstd-compressed JSON thread.
    w = _Writer(root, home, "zed", truth, plant)
    thread = {
        "title": "Debug payroll export",
        "messages": [{"User": {"id": "u1", "content": [{"Text": f"Why is {s_name} missing?"}]}}],
        "updated_at": "2026-01-20T12:00:00Z",
    }
    other_thread = {
        "title": "Other",
        "messages": [{"User": {"id": "u1", "content": [{"Text": f"Ping {t_mail}"}]}}],
        "updated_at": "2026-01-21T12:00:00Z",
    }
    w.database(
        f"{zed_data[os_name]}/threads/threads.db",
        "CREATE TABLE threads(id TEXT PRIMARY KEY, summary TEXT, updated_at TEXT, data_type TEXT, data BLOB);",
        {"threads": [
            ("t1", "Debug payroll export", "2026-01-20T12:00:00Z", "zstd", zstandard.ZstdCompressor(level=3).compress(_dumps(thread).encode())),
            ("t2", "Other", "2026-01-21T12:00:00Z", "json", _dumps(other_thread).encode()),
        ]},
        wal=False,
    )  # fmt: skip

    # OpenCode: WAL database.
    w = _Writer(root, home, "opencode", truth, plant)
    w.database(
        ".local/share/opencode/opencode.db",
        "CREATE TABLE session(id TEXT PRIMARY KEY, title TEXT, time_created INTEGER, time_updated INTEGER);"
        "CREATE TABLE part(id TEXT PRIMARY KEY, message_id TEXT, session_id TEXT, data TEXT);",
        {
            "session": [("ses_01", f"Contract for {s_name}", 1772442000000, 1772442009000)],
            "part": [
                ("prt_01", "msg_01", "ses_01", _dumps({"type": "tool", "tool": "read", "state": {"output": f"{s_name}, salary"}})),
                ("prt_02", "msg_02", "ses_01", _dumps({"type": "text", "text": f"{t_name} signs too"})),
            ],
        },
        wal=True,
    )  # fmt: skip

    # Shadow git checkpoints (project-file snapshots): a Cline workspace whose snapshot names the subject
    # (found in a loose object, deleted whole), a Gemini project history naming only a third party (kept).
    w = _Writer(root, home, "cline", truth, plant)
    repo = user_dir.format(app="Code") + "/globalStorage/saoudrizwan.claude-dev/checkpoints/4fa3b2c1"
    obj = _git_blob(w, f"{repo}/.git", f"name,email\n{s_name},{s_mail}\n".encode())
    truth.subject.append({"app": "cline", "path": w.path(obj), "line": None})
    w = _Writer(root, home, "gemini-cli", truth, plant)
    _git_blob(w, ".gemini/history/9c1d7e20/.git", f"owner: {t_name} <{t_mail}>\n".encode())
    truth.shadow_git.append(w.path(".gemini/history/9c1d7e20"))

    # Encrypted stores: listed, never opened.
    w = _Writer(root, home, "windsurf", truth, plant)
    w.write(".codeium/windsurf/cascade/0a1b2c3d.pb", bytes(range(256)) * 4)
    truth.encrypted.append(w.path(".codeium/windsurf/cascade/0a1b2c3d.pb"))
    if os_name == "macos":
        w = _Writer(root, home, "chatgpt-desktop", truth, plant)
        rel = "Library/Application Support/com.openai.chat/conversations-v3-1111/abc.data"
        w.write(rel, bytes(range(255, -1, -1)) * 4)
        truth.encrypted.append(w.path(rel))
    return truth
