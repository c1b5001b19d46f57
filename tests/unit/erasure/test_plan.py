"""Tests for erasure.plan: decision rules, scopes of holds and exceptions, JSON form, digest, summary."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.agents.base import Erase
from connectors.base import Item, Skipped
from detection.findings import Finding, FindingLocation
from erasure.discovery import ArtifactInfo, LocationDiscovery
from erasure.plan import ActionKind, ErasurePlan, plan_erasure
from erasure.verify import record_verification, verify_erasure
from models.errors import InputError
from models.holds import hold_covers, hold_from_settings
from models.settings import Art17Exception, ErasureSettings, HoldSettings
from proofs.ledger import Ledger
from proofs.store import JsonlLedgerStore

NOW = datetime(2026, 11, 20, tzinfo=UTC)
STORE = "/Users/ana/Library/Application Support/Claude/local-agent-mode-sessions/a/b"
OWNED = "local_11111111-2222-4333-8444-555555555555"
OTHER = "local_99999999-2222-4333-8444-555555555555"
SECRET = "Zoë Ångström"
HEX = "ab" * 32


def _item(
    path: str,
    line: int | None,
    *,
    kind: str,
    sid: str | None,
    reason: str = "identifier_match",
    when: str | None = "2026-01-02T00:00:00Z",
    named: bool = True,
) -> Finding:
    return Finding(
        FindingLocation(path, line, endpoint="lap"),
        kind,
        reason,
        session_id=sid,
        timestamp=when,
        content=f"CONTENT-MARKER {SECRET}",
        pointers=("/text",) if named else (),
        forms=("name",),
    )


def _info(path: str, kind: str, sid: str | None, *, lines: int = 11, fmt: str = "jsonl") -> ArtifactInfo:
    return ArtifactInfo(_file("lap", path, 100, f"1:100:{len(path)}", HEX, lines, kind, fmt), sid)


def _file(location: str, path: str, size: int, version: str, sha256: str, lines: int, kind: str, fmt: str) -> Item:
    return Item(location, path, size, None, version, sha256=sha256, lines=lines, kind=kind, fmt=fmt)


def _laptop(owned_share: int = 1) -> LocationDiscovery:
    """One owned session, one colleague's session naming the subject on `owned_share` of 10 lines, memory."""
    own_t = f"{STORE}/{OWNED}/.claude/projects/p/c1.jsonl"
    other_t = f"{STORE}/{OTHER}/.claude/projects/p/c2.jsonl"
    memory = f"{STORE}/memory/notes.md"
    items = [_item(own_t, n, kind="transcript", sid=OWNED, reason="owned_session", named=n == 1) for n in range(1, 11)]
    items += [_item(other_t, n, kind="transcript", sid=OTHER) for n in range(1, owned_share + 1)]
    items.append(_item(memory, 3, kind="memory", sid=None, when=None))
    artifacts = (
        _info(f"{STORE}/{OWNED}.json", "session_record", OWNED, fmt="json"),
        _info(own_t, "transcript", OWNED),
        _info(f"{STORE}/{OWNED}/.audit-key", "audit_key", OWNED, fmt="none"),
        _info(f"{STORE}/{OTHER}.json", "session_record", OTHER, fmt="json"),
        _info(other_t, "transcript", OTHER),
        _info(memory, "memory", None, fmt="text"),
        _info("/Users/ana/Library/Application Support/Claude/vm_bundles/disk.img", "residual", None, fmt="none"),
    )
    return LocationDiscovery("lap", "endpoint", tuple(items), ((OWNED, "session_email"),), artifacts)


def _plan(*discoveries: LocationDiscovery, **kwargs: Any) -> ErasurePlan:
    settings = kwargs.pop("settings", ErasureSettings())
    return plan_erasure(
        "req-1",
        discoveries,
        settings=settings,
        holds=kwargs.pop("holds", ()),
        subject_hashes=kwargs.pop("keys", set()),
        now=NOW,
    )


def _kinds(plan: ErasurePlan) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for action in plan.actions:
        found.setdefault(action.kind.value, set()).add(action.path or "")
    return found


def test_owned_session_deleted_whole_others_redacted() -> None:
    """The owned session (record, files, directory) goes; the colleague's lines and the memory note are redacted."""
    plan = _plan(_laptop())
    session = next(a for a in plan.actions if a.kind is ActionKind.DELETE_SESSION)
    assert session.session_id == OWNED and session.path == f"{STORE}/{OWNED}.json"
    assert {f.path for f in session.files} >= {f"{STORE}/{OWNED}.json", f"{STORE}/{OWNED}/.audit-key"}
    assert session.dirs == (f"{STORE}/{OWNED}",)
    redacts = {a.path: a.lines for a in plan.actions if a.kind is ActionKind.REDACT}
    assert redacts == {f"{STORE}/{OTHER}/.claude/projects/p/c2.jsonl": (1,), f"{STORE}/memory/notes.md": (3,)}
    grounds = {a.ground for a in plan.exceptions}
    assert grounds == {"residual_store", "vendor_side_copy"}


@pytest.mark.parametrize(("named", "share", "whole"), [(5, 0.5, True), (4, 0.5, False), (1, 0.1, True)])
def test_mainly_about_share_decides_whole_session(named: int, share: float, whole: bool) -> None:
    """A colleague's session is deleted whole when the share of its records naming the subject reaches the rule."""
    plan = _plan(_laptop(named), settings=ErasureSettings(mainly_about_share=share))
    sessions = {a.session_id: a.reason for a in plan.actions if a.kind is ActionKind.DELETE_SESSION}
    assert (sessions.get(OTHER) == "mainly_about") is whole


def test_plan_holds_no_personal_data_and_roundtrips() -> None:
    """The plan JSON names no content; from_json(to_json) is identical and the digest stable."""
    plan = _plan(_laptop())
    text = plan.to_json()
    assert SECRET not in text and "CONTENT-MARKER" not in text
    again = ErasurePlan.from_json(text)
    assert again == plan and again.digest == plan.digest
    other = _plan(_laptop(2))
    assert other.digest != plan.digest
    broken = json.loads(text)
    del broken["actions"][0]["kind"]
    for bad in ("{", '{"format": "other"}', json.dumps(broken)):
        with pytest.raises(InputError):
            ErasurePlan.from_json(bad)


def test_summary_counts_per_location_and_action() -> None:
    """The summary gives one row per location and action with counts of actions, files and lines."""
    rows = {(r["location"], r["action"]): r for r in _plan(_laptop()).summary()}
    assert rows[("lap", "redact")]["count"] == 2 and rows[("lap", "redact")]["lines"] == 2
    assert rows[("lap", "delete_session")]["files"] == 3
    assert rows[("vendor", "exception")]["count"] == 1


def _hold(**kwargs: Any) -> HoldSettings:
    base: dict[str, Any] = {
        "id": "h1",
        "reason": "r",
        "case_reference": "C-1",
        "approver": "a@corp.example",
        "review_date": date(2027, 1, 1),
    }
    return HoldSettings(**(base | kwargs))


@pytest.mark.parametrize(
    ("hold", "location", "path", "when", "covered"),
    [
        (_hold(), "lap", "/x", None, True),
        (_hold(subjects=["k1"]), "lap", "/x", None, True),
        (_hold(subjects=["other"]), "lap", "/x", None, False),
        (_hold(endpoints=["lap2"]), "lap", "/x", None, False),
        (_hold(paths=["/Users/*/memory/*"]), "lap", "/Users/ana/memory/n.md", None, True),
        (_hold(paths=["/Users/*/memory/*"]), "lap", "/Users/ana/x.md", None, False),
        (_hold(date_from=date(2026, 1, 1)), "lap", "/x", date(2025, 12, 31), False),
        (_hold(date_to=date(2026, 1, 1)), "lap", "/x", date(2026, 1, 1), True),
        (_hold(date_from=date(2026, 1, 1)), "lap", "/x", None, True),
    ],
    ids=[
        "all",
        "subject-key",
        "other-subject",
        "other-endpoint",
        "path-in",
        "path-out",
        "before",
        "to-edge",
        "no-date-kept",
    ],
)
def test_hold_scope(hold: HoldSettings, location: str, path: str, when: date | None, covered: bool) -> None:
    """A configured hold, through the one scope rule, covers an item only within its subjects, endpoints,
    path globs and dates."""
    days = (when, when) if when is not None else None
    assert (
        hold_covers(hold_from_settings(hold), endpoint=location, path=path, session_dates=days, subject_hashes={"K1"})
        is covered
    )


def test_held_session_is_kept_and_verification_accepts_it() -> None:
    """A hold on the owned session's path keeps its files as exceptions; a re-scan of them still verifies."""
    hold = _hold(paths=[f"{STORE}/{OWNED}*"])
    laptop = _laptop()
    plan = _plan(laptop, holds=[hold])
    assert not [a for a in plan.actions if a.kind is ActionKind.DELETE_SESSION]
    held = {a.path for a in plan.exceptions if a.hold_id == "h1"}
    assert f"{STORE}/{OWNED}/.claude/projects/p/c1.jsonl" in held
    remaining = LocationDiscovery("lap", "endpoint", tuple(i for i in laptop.items if OWNED in i.path))
    assert verify_erasure(plan, [remaining]).clean
    leftover = LocationDiscovery("lap", "endpoint", laptop.items)
    result = verify_erasure(plan, [leftover])
    assert not result.clean and {r.path for r in result.remaining} == {
        f"{STORE}/{OTHER}/.claude/projects/p/c2.jsonl",
        f"{STORE}/memory/notes.md",
    }


def test_art17_exception_by_kind() -> None:
    """An Art. 17(3) exception for memory notes keeps them with their ground and reason."""
    exception = Art17Exception(ground="legal_obligation", reason="records duty", kinds=["memory"])
    plan = _plan(_laptop(), settings=ErasureSettings(exceptions=[exception]))
    kept = [a for a in plan.exceptions if a.ground == "legal_obligation"]
    assert [(a.path, a.lines, a.note) for a in kept] == [(f"{STORE}/memory/notes.md", (3,), "records duty")]
    assert f"{STORE}/memory/notes.md" not in _kinds(plan)["redact"]


def _version(key: str, vid: str, *, latest: bool, lines: int = 5, locked: bool = False) -> ArtifactInfo:
    file = _file("s3", key, 10, f"etag{vid}:{vid}", HEX, lines, "s3_object", "jsonl")
    return ArtifactInfo(replace(file, version_id=vid, is_latest=latest), None, locked=locked)


def _s3_item(key: str, vid: str, line: int) -> Finding:
    location = FindingLocation(key, line, store="s3", version_id=vid)
    return Finding(location, "s3_object", "identifier_match", content=SECRET)


def test_store_decisions() -> None:
    """Mainly-about objects are erased whole, others rewritten then old versions deleted; locks are exceptions."""
    artifacts = (
        _version("a.jsonl", "a2", latest=True),
        _version("a.jsonl", "a1", latest=False),
        _version("b.jsonl", "b2", latest=True),
        _version("b.jsonl", "b1", latest=False),
        _version("c.jsonl", "c2", latest=True),
        _version("c.jsonl", "c1", latest=False, locked=True),
        _version("d.jsonl", "d2", latest=True),
        _version("d.jsonl", "d1", latest=False),
    )
    items = [_s3_item("a.jsonl", "a2", n) for n in (1, 2, 3)] + [_s3_item("a.jsonl", "a1", 1)]
    items += [_s3_item("b.jsonl", "b2", 2), _s3_item("b.jsonl", "b1", 2)]
    items += [_s3_item("c.jsonl", "c1", 1), _s3_item("d.jsonl", "d1", 4)]
    plan = _plan(LocationDiscovery("s3", "store", tuple(items), (), artifacts))
    by_key = {(a.path, a.kind): a for a in plan.actions if a.location == "s3"}
    assert by_key[("a.jsonl", ActionKind.S3_ERASE_OBJECT)].version_ids == ("a1", "a2")
    rewrite = by_key[("b.jsonl", ActionKind.S3_REWRITE)]
    assert rewrite.lines == (2,) and rewrite.version_ids == ("b1", "b2")
    assert by_key[("c.jsonl", ActionKind.EXCEPTION)].ground == "object_lock"
    assert by_key[("d.jsonl", ActionKind.S3_DELETE_VERSIONS)].version_ids == ("d1",)
    assert ("c.jsonl", ActionKind.S3_DELETE_VERSIONS) not in by_key


def test_partly_held_file_is_redacted_on_its_other_lines() -> None:
    """A hold whose dates cover one line of a file keeps that line; the file's other lines are still redacted."""
    laptop = _laptop(3)
    other_t = f"{STORE}/{OTHER}/.claude/projects/p/c2.jsonl"
    items = tuple(
        replace(i, timestamp="2025-06-01T00:00:00Z") if i.path == other_t and i.line == 2 else i for i in laptop.items
    )
    hold = _hold(endpoints=["lap"], paths=[other_t], date_to=date(2025, 12, 31))
    plan = _plan(LocationDiscovery("lap", "endpoint", items, laptop.owned_sessions, laptop.artifacts), holds=[hold])
    redact = next(a for a in plan.actions if a.kind is ActionKind.REDACT and a.path == other_t)
    kept = next(a for a in plan.exceptions if a.path == other_t)
    assert (redact.lines, kept.lines, kept.hold_id) == ((1, 3), (2,), "h1")


def test_verification_is_recorded_per_location(tmp_path: Path) -> None:
    """One VERIFY entry per location with the remaining count; recording the same run twice adds nothing."""
    laptop = _laptop()
    plan = _plan(laptop)
    result = verify_erasure(plan, [laptop, LocationDiscovery("lap2", "endpoint", ())])
    ledger = Ledger(JsonlLedgerStore(tmp_path / "ledger.jsonl"))
    first = record_verification(ledger, plan, result, run_id="run-1", actor="tester")
    assert record_verification(ledger, plan, result, run_id="run-1", actor="tester") == first
    entries = {e.record.location: e.record for e in ledger.entries()}
    assert entries["lap"].verification == "findings_remain" and entries["lap"].counts["findings_remaining"] > 0
    assert entries["lap2"].verification == "clean"
    assert result.to_dict()["clean"] is False and SECRET not in json.dumps(result.to_dict())


def test_unreadable_entries_are_listed_not_touched() -> None:
    """Entries the scan skipped are `not_reached` with the skip reason (never exceptions); delete markers are not."""
    laptop = _laptop()
    skipped = (
        Skipped("lap", "/Users/ana/.claude/locked", "permission_denied"),
        Skipped("lap", "/Users/ana/.claude/projects/p/out.jsonl", "symlink_out_of_scope", "/etc/x"),
        Skipped("lap", "/Users/ana/.claude/projects/p/pipe.jsonl", "special_file"),
        Skipped("lap", "/k", "delete_marker"),
    )
    plan = _plan(LocationDiscovery("lap", "endpoint", laptop.items, laptop.owned_sessions, laptop.artifacts, skipped))
    gaps = [(a.kind, a.path, a.reason, a.ground) for a in plan.not_reached]
    assert gaps == [
        (ActionKind.NOT_REACHED, "/Users/ana/.claude/locked", "permission_denied", None),
        (ActionKind.NOT_REACHED, "/Users/ana/.claude/projects/p/out.jsonl", "symlink_out_of_scope", None),
        (ActionKind.NOT_REACHED, "/Users/ana/.claude/projects/p/pipe.jsonl", "special_file", None),
    ]
    assert not [a for a in plan.exceptions if a.path in {g[1] for g in gaps}], "a gap is never an exception"


def test_user_folder_copies_of_deleted_outputs_go_with_the_session() -> None:
    """A `~/Claude/` file with the same content as a deleted session's output is deleted with the session."""
    laptop = _laptop()
    output = ArtifactInfo(
        _file("lap", f"{STORE}/{OWNED}/outputs/draft.md", 9, "v1", "cd" * 32, 2, "output", "text"), OWNED
    )
    copy = ArtifactInfo(_file("lap", "/Users/ana/Claude/draft.md", 9, "v2", "cd" * 32, 2, "user_output", "text"))
    unrelated = ArtifactInfo(_file("lap", "/Users/ana/Claude/other.md", 9, "v3", "ef" * 32, 2, "user_output", "text"))
    artifacts = (*laptop.artifacts, output, copy, unrelated)
    plan = _plan(LocationDiscovery("lap", "endpoint", laptop.items, laptop.owned_sessions, artifacts))
    session = next(a for a in plan.actions if a.kind is ActionKind.DELETE_SESSION)
    paths = {f.path for f in session.files}
    assert copy.file.path in paths and output.file.path in paths and unrelated.file.path not in paths
    assert all(not d.startswith("/Users/ana/Claude") for d in session.dirs)


def test_hold_covers_a_session_whose_activity_overlaps_its_period() -> None:
    """A session active from 2 to 20 January overlaps a hold ending on the 10th: its files are kept whole,
    even though its last activity is after the hold's period (the overlap rule, not the last day)."""
    own_t = f"{STORE}/{OWNED}/.claude/projects/p/c1.jsonl"
    items = [
        _item(own_t, 1, kind="transcript", sid=OWNED, reason="owned_session", when="2026-01-02T09:00:00Z"),
        _item(own_t, 2, kind="transcript", sid=OWNED, reason="owned_session", when="2026-01-20T09:00:00Z"),
    ]
    artifacts = (_info(f"{STORE}/{OWNED}.json", "session_record", OWNED, fmt="json"), _info(own_t, "transcript", OWNED))
    laptop = LocationDiscovery("lap", "endpoint", tuple(items), ((OWNED, "session_email"),), artifacts)
    held = _plan(laptop, holds=[_hold(date_to=date(2026, 1, 10))])
    assert not [a for a in held.actions if a.kind is ActionKind.DELETE_SESSION]
    assert {a.path for a in held.exceptions if a.hold_id == "h1"} >= {own_t}
    later = _plan(laptop, holds=[_hold(date_from=date(2026, 1, 21))])
    assert [a.session_id for a in later.actions if a.kind is ActionKind.DELETE_SESSION] == [OWNED]


@pytest.mark.parametrize(
    ("erase", "fmt", "whole_only"),
    [
        (Erase.WHOLE_ONLY, "text", True),  # a Claude audit key: never opened, goes whole
        (Erase.WHOLE_ONLY, "json", True),  # ChatGPT's plaintext conversation files: deleted, never rewritten
        (Erase.JSONL_REWRITE, "jsonl", False),  # rewritten line by line
        (Erase.TEXT_EDIT, "binary", True),  # any binary file
        (Erase.TEXT_EDIT, "none", True),  # never opened
        (None, "json", False),  # an S3 version: decided by its format alone
    ],
)
def test_whole_only_follows_the_method_found_at_discovery_and_the_format(
    erase: Erase | None, fmt: str, whole_only: bool
) -> None:
    """Whether a file goes whole is the erase method its classification gave it at discovery (whatever its
    path), or its format."""
    from erasure.plan import _whole_only

    info = _info("/Users/u/x", "transcript", "s1", fmt=fmt)
    assert _whole_only(ArtifactInfo(info.file, info.session_id, app="any", erase=erase)) is whole_only


CHATGPT = "/Users/ana/Library/Application Support/com.openai.chat/conversations-abc/s9.json"


def _whole_only_file(erase: Erase, *lines: int) -> LocationDiscovery:
    """A colleague's file that its layout says cannot be rewritten (`erase`), naming the subject on `lines`
    (line n written in month n of 2026)."""
    items = tuple(replace(_item(CHATGPT, n, kind="transcript", sid="s9"), timestamp=f"2026-{n:02d}-02T00:00:00Z")
                  for n in lines)  # fmt: skip
    info = _info(CHATGPT, "transcript", "s9", fmt="json")
    return LocationDiscovery("lap", "endpoint", items, (), (replace(info, app="chatgpt-desktop", erase=erase),))


def test_a_content_addressed_file_is_deleted_whole_never_redacted() -> None:
    """Line findings in a content-addressed file (its blobs are keyed by their content): deleted whole."""
    plan = _plan(_whole_only_file(Erase.CONTENT_ADDRESSED, 1, 2))
    actions = [(a.kind, a.path, a.reason) for a in plan.actions if a.path == CHATGPT]
    assert actions == [(ActionKind.DELETE_FILE, CHATGPT, "content_addressed")]


def test_another_persons_whole_only_file_is_reported_never_rewritten_or_deleted() -> None:
    """Line findings in a colleague's file its layout declares whole-only (ChatGPT's plaintext conversations):
    it may not be rewritten, and deleting the colleague's whole conversation is not the erasure of the
    person's data; the lines are kept as an exception that says so, for the team to decide."""
    plan = _plan(_whole_only_file(Erase.WHOLE_ONLY, 1, 2))
    actions = [(a.kind, a.lines, a.reason, a.ground) for a in plan.actions if a.path == CHATGPT]
    assert actions == [(ActionKind.EXCEPTION, (1, 2), "whole_only_shared", "not_erasable_in_place")]


def test_an_owned_whole_only_conversation_goes_with_its_session() -> None:
    """The person's own conversation in a whole-only file is deleted whole, with its session."""
    discovery = _whole_only_file(Erase.WHOLE_ONLY, 1, 2)
    owned = replace(discovery, owned_sessions=(("s9", "session_email"),))
    actions = [(a.kind, a.reason) for a in _plan(owned).actions if a.path == CHATGPT]
    assert actions == [(ActionKind.DELETE_SESSION, "owned_session")]


def test_a_held_line_keeps_a_file_that_could_only_go_whole() -> None:
    """A hold covering one line of a file that can only be deleted whole (content-addressed) keeps the whole
    file (deleting it would destroy the held line): one exception for the file, no deletion, no rewrite."""
    hold = _hold(endpoints=["lap"], paths=[CHATGPT], date_to=date(2026, 1, 31))  # line 1 only
    plan = _plan(_whole_only_file(Erase.CONTENT_ADDRESSED, 1, 2), holds=[hold])
    actions = [(a.kind, a.lines, a.hold_id) for a in plan.actions if a.path == CHATGPT]
    assert actions == [(ActionKind.EXCEPTION, (), "h1")]


def test_a_held_file_keeps_its_shadow_git_repository() -> None:
    """A shadow git repository goes whole, but not when an exception or a hold keeps one of its files, with
    findings or not: the repository is then kept whole (deleting it would destroy the held file), the file
    with findings listed under the same hold and noted as kept with its repository."""
    repo = "/Users/ana/.gemini/history/proj"
    held, other, quiet = (f"{repo}/objects/{d}/{d[0] * 38}" for d in ("aa", "bb", "cc"))
    items = (_item(other, None, kind="shadow_git", sid=None, when=None),)
    infos = tuple(replace(_info(path, "shadow_git", None, fmt="none"), app="gemini") for path in (held, other, quiet))
    laptop = LocationDiscovery("lap", "endpoint", items, (), infos)
    deletion = [(a.kind, a.path, len(a.files)) for a in _plan(laptop).actions if a.path]
    assert deletion == [(ActionKind.DELETE_SESSION, repo, 3)]
    plan = _plan(laptop, holds=[_hold(endpoints=["lap"], paths=[held])])  # the held file has no finding
    kept = [(a.kind, a.path, a.lines, a.hold_id, a.note) for a in plan.actions if a.path]
    assert kept == [
        (ActionKind.EXCEPTION, held, (), "h1", "C-1"),
        (ActionKind.EXCEPTION, other, (), "h1", "kept with its shadow git repository, which holds a file this keeps"),
    ]
