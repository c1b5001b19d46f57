"""Tests of the simulated fleet: determinism, truth.json against a plain text search, audit chains, layouts."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from models.errors import InputError
from simulation.fleet import MB, simulate_fleet

REFERENCE_MS = 1_793_491_200_000  # 2026-11-01T00:00:00Z
THREE_YEARS_MS = 3 * 366 * 86_400_000


def _files(out: Path, endpoint: str) -> Iterator[tuple[str, Path]]:
    base = out / endpoint
    for dirpath, _dirs, names in os.walk(base):
        for name in names:
            full = Path(dirpath) / name
            yield "/" + full.relative_to(base).as_posix(), full


def _tree_digest(out: Path) -> dict[str, tuple[str, int, int]]:
    digest: dict[str, tuple[str, int, int]] = {}
    for dirpath, dirs, names in os.walk(out):
        for name in sorted(names) + sorted(dirs):
            full = Path(dirpath) / name
            if full == out / "dsr.toml":
                continue  # holds absolute paths; compared separately
            st = full.lstat()
            content = hashlib.sha256(full.read_bytes()).hexdigest() if full.is_file() else "dir"
            digest[full.relative_to(out).as_posix()] = (content, st.st_mtime_ns, st.st_nlink if full.is_file() else 0)
    return digest


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("fleet") / "fleet"
    simulate_fleet(out, endpoints=4, size_mb=0.5, seed=11)
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    return out, truth


def test_same_seed_gives_identical_trees_and_mtimes(tmp_path: Path) -> None:
    """Two runs with one seed produce byte-identical trees, mtimes, link counts and truth.json."""
    simulate_fleet(tmp_path / "a", endpoints=2, size_mb=0.3, seed=5)
    simulate_fleet(tmp_path / "b", endpoints=2, size_mb=0.3, seed=5)
    first, second = _tree_digest(tmp_path / "a"), _tree_digest(tmp_path / "b")
    assert first == second
    toml_a = (tmp_path / "a" / "dsr.toml").read_text().replace(str((tmp_path / "a").resolve()), "OUT")
    toml_b = (tmp_path / "b" / "dsr.toml").read_text().replace(str((tmp_path / "b").resolve()), "OUT")
    assert toml_a == toml_b


def test_different_seed_gives_different_trees(tmp_path: Path) -> None:
    """Another seed changes the trees and truth.json."""
    simulate_fleet(tmp_path / "a", endpoints=1, size_mb=0.2, seed=1)
    simulate_fleet(tmp_path / "b", endpoints=1, size_mb=0.2, seed=2)
    assert _tree_digest(tmp_path / "a") != _tree_digest(tmp_path / "b")


def test_every_truth_location_holds_its_literal(fleet: tuple[Path, dict[str, Any]]) -> None:
    """Each listed location's raw line contains the planted literal (and each trap's line its literal)."""
    out, truth = fleet
    assert truth["locations"]
    for entry in [*truth["locations"], *truth["traps"]]:
        raw = (out / entry["endpoint"] / entry["path"].lstrip("/")).read_bytes().split(b"\n")
        assert entry["literal"].encode("utf-8") in raw[entry["line"] - 1], entry


def test_plain_search_finds_nothing_missing_from_truth(fleet: tuple[Path, dict[str, Any]]) -> None:
    """Searching every literal form of every subject finds only lines listed as locations or traps."""
    out, truth = fleet
    listed = {(e["subject"], e["endpoint"], e["path"], e["line"]) for e in truth["locations"]}
    traps = {(e["subject"], e["endpoint"], e["path"], e["line"]) for e in truth["traps"]}
    found: set[tuple[str, str, str, int]] = set()
    for endpoint in truth["endpoints"]:
        for path, full in _files(out, endpoint["name"]):
            lines = full.read_bytes().split(b"\n")
            for subject in truth["subjects"]:
                literals = [f["literal"].encode("utf-8") for f in subject["forms"]]
                for number, line in enumerate(lines, start=1):
                    if any(lit in line for lit in literals):
                        found.add((subject["key"], endpoint["name"], path, number))
    assert found - listed - traps == set()
    assert listed <= found
    assert not listed & traps


def test_traps_cover_the_first_subject(fleet: tuple[Path, dict[str, Any]]) -> None:
    """Traps of every look-alike form are planted for the first subject."""
    _out, truth = fleet
    forms = {e["form"] for e in truth["traps"] if e["subject"] == "s1"}
    assert forms == {
        "email_extra_digit",
        "email_extra_prefix",
        "phone_last_digit_changed",
        "user_id_extra_digit",
        "phone_foreign_region",
    }
    literals = {e["literal"] for e in truth["traps"]}
    assert {"zoe.angstrom2@example.invalid", "xzoe.angstrom@example.invalid", "E-482130"} <= literals


def test_every_form_and_place_is_planted(fleet: tuple[Path, dict[str, Any]]) -> None:
    """Every form of every subject and every kind of place carries at least one planted location."""
    _out, truth = fleet
    for subject in truth["subjects"]:
        planted = {e["form"] for e in truth["locations"] if e["subject"] == subject["key"]}
        assert {f["form"] for f in subject["forms"]} <= planted, subject["key"]
    kinds = {e["kind"] for e in truth["locations"]}
    assert {
        "session_record",
        "transcript",
        "subagent",
        "tool_result",
        "task",
        "audit_log",
        "upload",
        "output",
        "memory",
        "org_file",
        "code_session_record",
        "prompt_history",
        "paste_cache",
        "file_history",
        "plan",
        "todo",
        "shell_snapshot",
        "project_memory",
        "claude_json",
        "user_output",
        "log",
    } <= kinds


def test_json_escape_lines_decode_to_the_name(fleet: tuple[Path, dict[str, Any]]) -> None:
    """A `\\uXXXX`-escaped location in a JSONL file is valid JSON whose decoded text holds the real name."""
    out, truth = fleet
    names = {s["key"]: s["name"] for s in truth["subjects"]}
    checked = 0
    for entry in truth["locations"]:
        if entry["form"] == "name_json_escape" and entry["path"].endswith(".jsonl"):
            raw = (out / entry["endpoint"] / entry["path"].lstrip("/")).read_bytes().split(b"\n")
            line = raw[entry["line"] - 1]
            assert line.isascii()
            assert names[entry["subject"]] in json.dumps(json.loads(line), ensure_ascii=False)
            checked += 1
    assert checked


def test_audit_chains_verify_with_truth_keys(fleet: tuple[Path, dict[str, Any]]) -> None:
    """Every audit.jsonl verifies line by line with its key from truth.json, or is listed as unsigned."""
    out, truth = fleet
    keys = truth["audit_keys"]
    unsigned = set(truth["audit_chain"]["unsigned_logs"])
    assert unsigned and keys
    seen = 0
    for endpoint in truth["endpoints"]:
        for path, full in _files(out, endpoint["name"]):
            if not path.endswith("/audit.jsonl"):
                continue
            ref = f"{endpoint['name']}:{path}"
            lines = [json.loads(x) for x in full.read_bytes().splitlines()]
            if ref in unsigned:
                assert all("_audit_hmac" not in x for x in lines)
                continue
            key = bytes.fromhex(keys[ref])
            assert (full.parent / ".audit-key").read_bytes().hex() != keys[ref]
            prev = truth["audit_chain"]["genesis"]
            for obj in lines:
                mac = obj.pop("_audit_hmac")
                body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
                assert hmac.new(key, prev.encode("ascii") + body, hashlib.sha256).hexdigest() == mac
                prev = mac
            seen += 1
    assert seen == len(keys)


def test_tampered_audit_line_fails_verification(fleet: tuple[Path, dict[str, Any]]) -> None:
    """The verification above can fail: an edited line no longer matches its MAC."""
    out, truth = fleet
    ref, hexkey = next(iter(truth["audit_keys"].items()))
    endpoint, path = ref.split(":", 1)
    obj = json.loads((out / endpoint / path.lstrip("/")).read_bytes().splitlines()[0])
    mac = obj.pop("_audit_hmac")
    obj["_audit_timestamp"] = "2020-01-01T00:00:00.000Z"
    body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    digest = hmac.new(bytes.fromhex(hexkey), b"audit-chain-genesis" + body, hashlib.sha256).hexdigest()
    assert digest != mac


def test_hard_linked_upload_shares_the_documents_file(fleet: tuple[Path, dict[str, Any]]) -> None:
    """Each listed hard link joins an upload and a file in the user's Documents (st_nlink == 2)."""
    out, truth = fleet
    assert truth["hardlinks"]
    for link in truth["hardlinks"]:
        upload, original = (out / link["endpoint"] / p.lstrip("/") for p in link["paths"])
        assert "/uploads/" in link["paths"][0] and "/Documents/" in link["paths"][1]
        assert upload.stat().st_nlink == 2
        assert upload.stat().st_ino == original.stat().st_ino


_COMMON = {
    "session_record": r"/local-agent-mode-sessions/[0-9a-f-]{36}/[0-9a-f-]{36}/local_[0-9a-f-]{36}\.json$",
    "agent_record": r"/local-agent-mode-sessions/[^/]+/[^/]+/agent/local_[0-9a-f-]{36}\.json$",
    "ditto": r"/agent/local_ditto_[0-9a-f]{8}/audit\.jsonl$",
    "ditto_transcript": r"/agent/local_ditto_[0-9a-f]{8}/\.claude/projects/[^/]+/[0-9a-f-]{36}\.jsonl$",
    "transcript": r"/local_[0-9a-f-]{36}/\.claude/projects/-sessions-[^/]+/[0-9a-f-]{36}\.jsonl$",
    "superseded": r"/\.claude/projects/[^/]+/[0-9a-f-]{36}\.jsonl\.superseded-\d+$",
    "orphaned": r"/\.claude/projects/[^/]+/[0-9a-f-]{36}\.orphaned-\d+-[0-9a-f]+\.jsonl$",
    "subagent": r"/[0-9a-f-]{36}/subagents/agent-[0-9a-f]+\.jsonl$",
    "subagent_meta": r"/subagents/agent-[0-9a-f]+\.meta\.json$",
    "tool_result": r"/[0-9a-f-]{36}/tool-results/toolu_[^/]+\.txt$",
    "task": r"/local_[0-9a-f-]{36}/\.claude/tasks/[0-9a-f-]{36}/\d+\.json$",
    "audit_log": r"/local_[0-9a-f-]{36}/audit\.jsonl$",
    "audit_key": r"/local_[0-9a-f-]{36}/\.audit-key$",
    "upload": r"/local_[0-9a-f-]{36}/uploads/[^/]+$",
    "output": r"/local_[0-9a-f-]{36}/outputs/[^/]+$",
    "memory_claude": r"/[^/]+/[^/]+/memory/CLAUDE\.md$",
    "memory_notes": r"/memory/memory/[^/]+\.md$",
    "space_memory": r"/spaces/[0-9a-f-]{36}/memory/[^/]+\.md$",
    "spaces": r"/spaces\.json$",
    "artifacts": r"/artifacts\.json$",
    "scheduled": r"/scheduled-tasks\.json$",
    "account_settings": r"/cowork_account_settings\.json$",
    "code_record": r"/claude-code-sessions/[^/]+/[^/]+/local_[0-9a-f-]{36}\.json$",
    "cli_transcript": r"/\.claude/projects/[^/]+/[0-9a-f-]{36}\.jsonl$",
    "history": r"/\.claude/history\.jsonl$",
    "paste_cache": r"/\.claude/paste-cache/[0-9a-f]+\.txt$",
    "file_history": r"/\.claude/file-history/[0-9a-f-]{36}/[0-9a-f]{16}@v1$",
    "plan": r"/\.claude/plans/[^/]+\.md$",
    "todo": r"/\.claude/todos/[^/]+\.json$",
    "shell_snapshot": r"/\.claude/shell-snapshots/snapshot-zsh-[^/]+\.sh$",
    "project_memory": r"/\.claude/projects/[^/]+/memory/[^/]+\.md$",
    "claude_json": r"/\.claude\.json$",
    "user_output": r"/Claude/[^/]+\.md$",
    "log": r"/main\.log$",
    "vm": r"/vm_bundles/.+/sessiondata\.img$",
    "indexeddb": r"/IndexedDB/.+",
    "local_storage": r"/Local Storage/.+",
    "session_storage": r"/Session Storage/.+",
    "documents": r"/Documents/[^/]+\.txt$",
}
_ROOTS = {
    "macos": r"^/Users/[^/]+/Library/Application Support/Claude/",
    "windows": r"^/C:/Users/[^/]+/AppData/Roaming/Claude/",
    "windows-store": r"^/C:/Users/[^/]+/AppData/Local/Packages/Claude_[a-z0-9]+/LocalCache/Roaming/Claude/",
    "linux": r"^/home/[^/]+/\.config/Claude/",
}


@pytest.mark.parametrize("variant", ["macos", "windows", "linux", "windows-store"])
def test_every_artifact_kind_exists_on_every_os(fleet: tuple[Path, dict[str, Any]], variant: str) -> None:
    """Each OS variant's laptop holds every artifact kind of the layout doc under that OS's roots."""
    out, truth = fleet
    endpoint = next(e for e in truth["endpoints"] if e["variant"] == variant)
    paths = [p for p, _ in _files(out, endpoint["name"])]
    missing = [kind for kind, pattern in _COMMON.items() if not any(re.search(pattern, p) for p in paths)]
    assert missing == []
    assert any(re.match(_ROOTS[variant] + "local-agent-mode-sessions/", p) for p in paths)
    if variant == "macos":
        assert any(p.endswith("/Library/Logs/Claude/main.log") for p in paths)
    if variant == "windows-store":
        assert any(re.match(_ROOTS["windows"] + "local-agent-mode-sessions/", p) for p in paths)
    if variant.startswith("windows"):
        assert "/C:/ProgramData/Claude/Logs/coworkd/coworkd.log" in paths


def test_failed_record_has_no_cli_session(fleet: tuple[Path, dict[str, Any]]) -> None:
    """Failed sessions' records carry no cliSessionId and own no transcript."""
    out, truth = fleet
    failed = [s for s in truth["sessions"] if s["type"] == "failed"]
    assert failed
    for session in failed:
        assert len(session["paths"]) == 1
        record = json.loads((out / session["endpoint"] / session["paths"][0].lstrip("/")).read_text("utf-8"))
        assert "cliSessionId" not in record and record["sessionId"] == session["session_id"]


def test_session_dates_match_records_and_span_three_years(fleet: tuple[Path, dict[str, Any]]) -> None:
    """Truth session dates equal the records' epoch-ms fields and lie within ~3 years before the reference."""
    out, truth = fleet
    assert truth["reference_date"] == "2026-11-01T00:00:00Z"
    created = []
    for session in truth["sessions"]:
        assert REFERENCE_MS - THREE_YEARS_MS <= session["created_at_ms"] <= session["last_activity_at_ms"]
        assert session["last_activity_at_ms"] < REFERENCE_MS
        created.append(session["created_at_ms"])
        record_path = next(
            p
            for p in session["paths"]
            if p.endswith(session["session_id"] + ".json") or p.endswith(session["session_id"] + ".jsonl")
        )
        if record_path.endswith(".json"):
            record = json.loads((out / session["endpoint"] / record_path.lstrip("/")).read_text("utf-8"))
            assert record["createdAt"] == session["created_at_ms"]
            assert record["lastActivityAt"] == session["last_activity_at_ms"]
    assert max(created) - min(created) > 365 * 86_400_000


def test_first_subject_owns_laptop_and_a_session_elsewhere(fleet: tuple[Path, dict[str, Any]]) -> None:
    """Subject 1 owns laptop-01 (configured owner) and one session on laptop-02 via the record's e-mail."""
    out, truth = fleet
    s1 = truth["subjects"][0]
    assert s1["owner_of"] == ["laptop-01"]
    elsewhere = [s for s in truth["sessions"] if s["owner_subject"] == "s1" and s["endpoint"] != "laptop-01"]
    assert [s["endpoint"] for s in elsewhere] == ["laptop-02"]
    config = tomllib.loads((out / "dsr.toml").read_text(encoding="utf-8"))
    assert config["endpoints"][0]["owner"] == s1["emails"][0]
    assert config["endpoints"][0]["url"] == (out / "laptop-01").resolve().as_uri()
    assert {e["os"] for e in config["endpoints"]} == {"macos", "windows", "linux"}


def test_dsr_toml_validates_against_settings(fleet: tuple[Path, dict[str, Any]]) -> None:
    """The written dsr.toml is accepted by the settings schema."""
    settings_module = pytest.importorskip("models.settings")
    out, _truth = fleet
    data = tomllib.loads((out / "dsr.toml").read_text(encoding="utf-8"))
    settings = settings_module.settings_from_dict(data, "dsr.toml")
    assert settings.controller.timezone == "Europe/London"
    assert len(settings.endpoints) == 4


def test_size_mb_is_roughly_respected(tmp_path: Path) -> None:
    """A laptop asked for 3 MiB holds between 3 and 3.75 MiB; 0 MiB gives just the planted structure."""
    big = simulate_fleet(tmp_path / "big", endpoints=1, size_mb=3, seed=3)
    assert 3 * MB <= big.bytes_written <= 3.75 * MB
    on_disk = sum(full.stat().st_size for _, full in _files(tmp_path / "big", "laptop-01"))
    assert on_disk >= big.bytes_written
    small = simulate_fleet(tmp_path / "small", endpoints=1, size_mb=0, seed=3)
    assert small.bytes_written < big.bytes_written / 3


def test_refuses_foreign_non_empty_directory(tmp_path: Path) -> None:
    """A non-empty directory without a previous simulation is refused and left untouched."""
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(InputError) as info:
        simulate_fleet(tmp_path, endpoints=1, size_mb=0)
    assert str(tmp_path) in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_rerun_replaces_a_previous_simulation(tmp_path: Path) -> None:
    """Simulating into a previous fleet's directory replaces it (fewer laptops leave none behind)."""
    simulate_fleet(tmp_path / "f", endpoints=3, size_mb=0, seed=1)
    simulate_fleet(tmp_path / "f", endpoints=1, size_mb=0, seed=1)
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == ["dsr.toml", "laptop-01", "truth.json"]


def test_filler_never_names_a_subject(tmp_path: Path) -> None:
    """Noise pieces carry no subject name token (so only planted lines can match)."""
    import random

    from simulation.identity import DEFAULT_SUBJECTS, strip_diacritics
    from simulation.noise import build_pool

    pool = build_pool(random.Random(1))  # noqa: S311 - deterministic filler, not crypto
    text = "\n".join([*pool.prompts, *pool.answers, *pool.outputs, *pool.commands, *pool.titles]).lower()
    for subject in DEFAULT_SUBJECTS:
        for token in strip_diacritics(subject.name).lower().replace("-", " ").split():
            assert token not in text, token


def test_custom_single_subject_matches_plain_search(tmp_path: Path) -> None:
    """A configured ASCII-named subject alone is planted, trapped and listed exactly as a search finds it."""
    from simulation.identity import Subject

    subject = Subject(
        key="c1",
        name="Sam Lee",
        emails=("sam.lee@example.invalid",),
        phones=("+12025550123",),
        user_ids=("U-7001",),
        account_uuid="0f0e0d0c-0b0a-4909-8807-060504030201",
    )
    out = tmp_path / "f"
    simulate_fleet(out, endpoints=2, size_mb=0, seed=9, subjects=[subject])
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    assert {f["form"] for f in truth["subjects"][0]["forms"]} >= {"name", "name_upper", "phone_brackets"}
    assert "name_json_escape" not in {f["form"] for f in truth["subjects"][0]["forms"]}
    listed = {(e["endpoint"], e["path"], e["line"]) for e in truth["locations"]}
    traps = {(e["endpoint"], e["path"], e["line"]) for e in truth["traps"]}
    assert traps
    literals = [f["literal"].encode("utf-8") for f in truth["subjects"][0]["forms"]]
    found = set()
    for endpoint in truth["endpoints"]:
        for path, full in _files(out, endpoint["name"]):
            for number, line in enumerate(full.read_bytes().split(b"\n"), start=1):
                if any(lit in line for lit in literals):
                    found.add((endpoint["name"], path, number))
    assert found - traps == listed


def test_progress_reports_each_laptop(tmp_path: Path) -> None:
    """The progress callback sees 0 of N first and N of N last, once per laptop in between."""
    calls: list[tuple[int, int]] = []
    simulate_fleet(tmp_path / "f", endpoints=3, size_mb=0, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)]


def test_filler_generation_is_fast(tmp_path: Path) -> None:
    """40 MiB of fleet are written in well under the 300-MB-per-minute budget (here: 20 s)."""
    import time

    started = time.perf_counter()
    result = simulate_fleet(tmp_path / "f", endpoints=2, size_mb=20, seed=1)
    assert time.perf_counter() - started < 20
    assert result.bytes_written >= 40 * MB
