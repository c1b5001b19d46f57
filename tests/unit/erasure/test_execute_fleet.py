"""Erasure end to end on simulated fleets: plan, execute, verify, with busy, conflict, hold and kill cases."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import date
from pathlib import Path

import pytest

from connectors.base import TEMP_PREFIX
from erasure.executor import STEPS, ActionStatus, execute_plan
from erasure.plan import ActionKind, ErasurePlan, plan_erasure
from erasure.verify import verify_erasure
from models.errors import ApprovalRequiredError
from models.settings import ErasureSettings, HoldSettings
from proofs.ledger import LedgerAction
from tests.unit.erasure.fleet import NOW, REQUEST, Fleet, SimulatedKill, kill_at, make_fleet, new_ledger


@pytest.fixture
def fleet(tmp_path: Path) -> Fleet:
    """A three-laptop fleet (seed 7) with subject s1 on every laptop."""
    return make_fleet(tmp_path / "fleet")


def _deleted_paths(plan: ErasurePlan) -> set[tuple[str, str]]:
    paths = {(a.location, f.path) for a in plan.actions for f in a.files}
    paths |= {(a.location, a.target.path) for a in plan.actions if a.kind is ActionKind.DELETE_FILE and a.target}
    return paths


def test_erasure_removes_every_form_and_keeps_third_parties(fleet: Fleet, tmp_path: Path) -> None:
    """After plan+execute no literal form of s1 remains outside exceptions; third parties' other lines stay."""
    plan = fleet.plan()
    assert fleet.subject_hits(plan), "the fleet must hold the subject before erasure"
    before = fleet.third_party_mentions(_deleted_paths(plan))
    originals = {(h["endpoint"], h["paths"][1]) for h in fleet.truth["hardlinks"]}
    digests = fleet.digests()
    report = fleet.execute(plan, new_ledger(tmp_path / "ledger.jsonl"))
    assert report.complete, report.pending
    assert fleet.subject_hits(plan) == []
    assert fleet.third_party_mentions(_deleted_paths(plan)) == before
    after = fleet.digests()
    assert all(after[key] == digests[key] for key in originals), "hard-linked originals must be unchanged"
    verification = verify_erasure(plan, fleet.discover())
    assert verification.clean, verification.remaining[:5]


def test_plan_read_back_knows_no_file_times_and_still_erases(fleet: Fleet, tmp_path: Path) -> None:
    """The approved plan is stored as JSON: read back, its targets carry no file mtime (asking raises), and
    it erases every form of the subject all the same."""
    plan = ErasurePlan.from_json(fleet.plan().to_json())
    targets = [a.target for a in plan.actions if a.target] + [f for a in plan.actions for f in a.files]
    assert targets and all(t.mtime is None for t in targets)
    with pytest.raises(ValueError, match="modification time"):
        _ = targets[0].modified_at
    report = fleet.execute(plan, new_ledger(tmp_path / "ledger.jsonl"))
    assert report.complete, report.pending
    assert fleet.subject_hits(plan) == []


def test_look_alikes_are_not_erased(fleet: Fleet, tmp_path: Path) -> None:
    """Trap lines (look-alikes of the subject's identifiers) keep their text: no over-erasure."""
    traps = [t for t in fleet.truth["traps"] if t["subject"] == "s1"]
    assert traps
    assert fleet.execute(fleet.plan(), new_ledger(tmp_path / "ledger.jsonl")).complete
    for trap in traps:
        lines = (fleet.root(trap["endpoint"]) / trap["path"].lstrip("/")).read_bytes().split(b"\n")
        assert trap["literal"].encode("utf-8") in lines[trap["line"] - 1], (trap["path"], trap["line"])


def test_ledger_has_one_verified_entry_per_action_and_rerun_adds_none(fleet: Fleet, tmp_path: Path) -> None:
    """Every finished action has exactly one entry; the ledger verifies; a rerun is a no-op."""
    plan = fleet.plan()
    ledger = new_ledger(tmp_path / "ledger.jsonl")
    first = fleet.execute(plan, ledger)
    entries = list(ledger.entries())
    assert len(entries) == len(plan.actions) == len({e.idempotency_key for e in entries})
    assert {o.ledger_seq for o in first.outcomes} == {e.seq for e in entries}
    assert ledger.verify().ok
    digests = fleet.digests()
    second = fleet.execute(plan, ledger, run_id="run-2")
    assert {o.status for o in second.outcomes} == {ActionStatus.ALREADY_DONE}
    assert len(list(ledger.entries())) == len(entries)
    assert fleet.digests() == digests


def test_proof_entries_hold_no_content(fleet: Fleet, tmp_path: Path) -> None:
    """Ledger, plan JSON and report JSON hold none of the subject's forms; planning needs no content."""
    discoveries = fleet.discover()
    plan = plan_erasure(REQUEST, discoveries, settings=ErasureSettings(), holds=[], subject_hashes=set(), now=NOW)
    stripped = [d.without_content() for d in discoveries]
    assert all(item.content is None for d in stripped for item in d.items)
    stripped_plan = plan_erasure(REQUEST, stripped, settings=ErasureSettings(), holds=[], subject_hashes=set(), now=NOW)
    assert stripped_plan == plan
    ledger_path = tmp_path / "ledger.jsonl"
    report = fleet.execute(plan, new_ledger(ledger_path))
    texts = [
        ledger_path.read_text(encoding="utf-8").lower(),
        plan.to_json().lower(),
        json.dumps(report.to_dict()).lower(),
    ]
    for form in fleet.truth["subjects"][0]["forms"]:
        assert all(form["literal"].lower() not in text for text in texts), form["type"]


def test_audit_lines_redacted_in_place_with_original_macs_recorded(fleet: Fleet, tmp_path: Path) -> None:
    """Audit-log redactions keep the old MACs in the file and record lines and MACs in the proof entry."""
    plan = fleet.plan()
    ledger = new_ledger(tmp_path / "ledger.jsonl")
    fleet.execute(plan, ledger)
    audit = [e for e in ledger.entries() if e.record.details.get("audit_break")]
    assert audit
    for entry in audit:
        macs = entry.record.details["original_macs"]
        assert isinstance(macs, (list, tuple)) and macs
        endpoint = entry.record.location
        assert endpoint is not None and entry.record.path is not None
        text = (fleet.root(endpoint) / entry.record.path.lstrip("/")).read_text(encoding="utf-8")
        assert all(str(mac) in text for mac in macs)


def test_busy_endpoint_is_not_touched(fleet: Fleet, tmp_path: Path) -> None:
    """A running agent app (simulated marker) leaves the endpoint unchanged and its actions busy; later it runs."""
    plan = fleet.plan()
    busy = fleet.endpoints[0]["name"]
    (fleet.root(busy) / ".dsr-simulated-busy").write_text("1")
    before = {k: v for k, v in fleet.digests().items() if k[0] == busy}
    ledger = new_ledger(tmp_path / "ledger.jsonl")
    report = fleet.execute(plan, ledger)
    busy_outcomes = [o for o in report.outcomes if o.location == busy and o.kind is not ActionKind.EXCEPTION]
    assert busy_outcomes and {o.status for o in busy_outcomes} == {ActionStatus.BUSY}
    assert {k: v for k, v in fleet.digests().items() if k[0] == busy} == before
    assert not report.complete
    (fleet.root(busy) / ".dsr-simulated-busy").unlink()
    assert fleet.execute(plan, ledger, run_id="run-2").complete
    assert fleet.subject_hits(plan) == []


def test_file_changed_after_planning_is_a_conflict_then_replan_succeeds(fleet: Fleet, tmp_path: Path) -> None:
    """A planned file that changed since planning is refused untouched; a new plan then erases it."""
    plan = fleet.plan()
    action = next(a for a in plan.actions if a.kind is ActionKind.REDACT and a.target and a.target.fmt == "jsonl")
    assert action.target is not None
    changed = fleet.root(action.location) / action.target.path.lstrip("/")
    with changed.open("ab") as out:
        out.write(b'{"type":"user","message":{"content":"appended after planning"}}\n')
    snapshot = changed.read_bytes()
    ledger = new_ledger(tmp_path / "ledger.jsonl")
    report = fleet.execute(plan, ledger)
    outcome = next(o for o in report.outcomes if o.action_id == action.action_id)
    assert outcome.status is ActionStatus.CONFLICT and outcome.ledger_seq is None
    assert changed.read_bytes() == snapshot
    replan = fleet.plan()
    assert [a.target.path for a in replan.actions if a.kind is ActionKind.REDACT and a.target] == [action.target.path]
    assert fleet.execute(replan, ledger, run_id="run-2").complete
    assert fleet.subject_hits(replan) == []
    assert verify_erasure(replan, fleet.discover()).clean


def test_legal_hold_keeps_its_scope_and_erases_the_rest(fleet: Fleet, tmp_path: Path) -> None:
    """Items of a held endpoint stay (recorded as exceptions, Art. 17(3)(e)); other endpoints are erased."""
    held = fleet.endpoints[2]["name"]
    hold = HoldSettings(
        id="hold-1",
        reason="litigation",
        case_reference="CASE-7",
        approver="legal@corp.example",
        review_date=date(2027, 1, 1),
        subjects=["hash-of-s1"],
        endpoints=[held],
    )
    unrelated = hold.model_copy(update={"id": "hold-2", "subjects": ["someone-else"], "endpoints": []})
    before = {k: v for k, v in fleet.digests().items() if k[0] == held}
    plan = fleet.plan(holds=[hold, unrelated], keys={"HASH-of-s1"})
    kept = [a for a in plan.exceptions if a.location == held and a.reason == "legal_hold"]
    assert kept and {a.hold_id for a in kept} == {"hold-1"} and {a.ground for a in kept} == {"legal_claims"}
    assert not [a for a in plan.actions if a.location == held and a.kind is not ActionKind.EXCEPTION]
    ledger = new_ledger(tmp_path / "ledger.jsonl")
    assert fleet.execute(plan, ledger).complete
    assert {k: v for k, v in fleet.digests().items() if k[0] == held} == before
    assert fleet.subject_hits(plan) == []
    grounds = [e.record.exception_ground for e in ledger.entries() if e.record.location == held]
    assert grounds and set(grounds) <= {"legal_claims", "residual_store"}
    verification = verify_erasure(plan, fleet.discover())
    assert verification.clean and verification.excepted > 0


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[tuple[str, str], str]]:
    """The number of planned actions and the final file digests of an uninterrupted erasure of the same fleet."""
    base = tmp_path_factory.mktemp("reference")
    fleet = make_fleet(base / "fleet")
    plan = fleet.plan()
    assert fleet.execute(plan, new_ledger(base / "ledger.jsonl")).complete
    return len(plan.actions), fleet.digests()


@pytest.mark.parametrize("nth", [1, 3], ids=["first", "third"])
@pytest.mark.parametrize("step", STEPS)
def test_kill_at_any_step_then_rerun_converges(
    tmp_path: Path, step: str, nth: int, reference: tuple[int, dict[tuple[str, str], str]]
) -> None:
    """Killed at a step, a rerun ends with the same trees as an uninterrupted run and one entry per action."""
    fleet = make_fleet(tmp_path / "fleet")
    plan = fleet.plan()
    assert len(plan.actions) == reference[0]
    ledger = new_ledger(tmp_path / "ledger.jsonl")
    with pytest.raises(SimulatedKill):
        fleet.execute(plan, ledger, kill=kill_at(step, nth))
    report = fleet.execute(plan, ledger, run_id="run-2")
    assert report.complete, report.pending
    assert fleet.temp_files() == []
    assert fleet.digests() == reference[1]
    entries = list(ledger.entries())
    assert len(entries) == len(plan.actions) == len({e.idempotency_key for e in entries})
    assert ledger.verify().ok


def test_sigkill_inside_replace_leaves_no_temp_file_after_rerun(fleet: Fleet, tmp_path: Path) -> None:
    """A process SIGKILLed between writing the temp file and the rename: the rerun cleans up and converges."""
    import subprocess
    import sys

    plan = fleet.plan()
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(plan.to_json(), encoding="ascii")
    ledger_path = tmp_path / "ledger.jsonl"
    script = f"""
import os, signal, sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[3])!r})
from pathlib import Path
from erasure.plan import ErasurePlan
from tests.unit.erasure.fleet import NOW, REQUEST, Fleet, make_fleet, new_ledger
import dataclasses
import hashlib
import json
from detection.identifiers import SubjectIdentifiers
from detection.matcher import Matcher
out = Path({str(fleet.out)!r})
truth = json.loads((out / "truth.json").read_text())
s = truth["subjects"][0]
ids = SubjectIdentifiers(
    emails=tuple(s["emails"]), names=(s["name"],), phones=tuple(s["phones"]), user_ids=tuple(s["user_ids"])
)
fleet = Fleet(out, truth, Matcher.from_identifiers(ids))
calls = {{"n": 0}}
real_replace = os.replace
def dying_replace(src, dst, *args, **kwargs):
    calls["n"] += 1
    if calls["n"] == 4:
        os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(src, dst, *args, **kwargs)
os.replace = dying_replace
plan = ErasurePlan.from_json(Path({str(plan_path)!r}).read_text())
fleet.execute(plan, new_ledger(Path({str(ledger_path)!r})))
"""
    result = subprocess.run([sys.executable, "-c", script], check=False, timeout=120)
    assert result.returncode == -9
    assert fleet.temp_files(), "the killed run must have left its temp file"
    ledger = new_ledger(ledger_path)
    done_before = len(list(ledger.entries()))
    assert 0 < done_before < len(plan.actions)
    leftovers = fleet.temp_files()
    report = fleet.execute(plan, ledger, run_id="run-2")
    assert report.complete, report.pending
    assert fleet.temp_files() == []
    assert fleet.subject_hits(plan) == []
    entries = list(ledger.entries())
    removals = [e for e in entries if e.record.action is LedgerAction.REMOVE_TEMP]
    actions = [e for e in entries if e.record.action is not LedgerAction.REMOVE_TEMP]
    assert len(actions) == len(plan.actions) == len({e.idempotency_key for e in actions})
    assert sorted(str(e.record.path).rsplit("/", 1)[1] for e in removals) == sorted(p.name for p in leftovers)
    assert ledger.verify().ok


def test_deleted_sessions_leave_no_reference_and_json_stays_valid(fleet: Fleet, tmp_path: Path) -> None:
    """Per-org files and prompt history no longer name deleted sessions; every JSON file still parses."""
    plan = fleet.plan()
    assert [a for a in plan.actions if a.drop_lines], "the owner's prompt history lines are planned for removal"
    deleted = {a.session_id for a in plan.actions if a.kind is ActionKind.DELETE_SESSION and a.session_id}
    assert deleted
    referencing = [a for a in plan.actions if a.session_ids]
    assert referencing and all(set(a.session_ids) <= deleted for a in referencing)
    assert fleet.execute(plan, new_ledger(tmp_path / "ledger.jsonl")).complete
    for (endpoint, path), full in fleet.files().items():
        data = full.read_bytes()
        if path.endswith(".json") and ("local-agent-mode-sessions" in path or "/.claude" in path):
            json.loads(data)
        if path.endswith(("artifacts.json", "scheduled-tasks.json", "/.claude/history.jsonl")):
            assert not any(sid.encode() in data for sid in deleted), (endpoint, path)


def test_plan_other_than_the_approved_one_touches_nothing(fleet: Fleet, tmp_path: Path) -> None:
    """With an approval naming another digest, execution is refused before any change or ledger entry."""
    plan = fleet.plan()
    before = fleet.digests()
    ledger = new_ledger(tmp_path / "ledger.jsonl")
    with pytest.raises(ApprovalRequiredError):
        execute_plan(
            plan,
            connectors=fleet.connector,
            matcher=fleet.matcher,
            ledger=ledger,
            run_id="r",
            actor="t",
            approved_digest="0" * 64,
        )
    assert fleet.digests() == before and list(ledger.entries()) == []
    report = execute_plan(
        plan,
        connectors=fleet.connector,
        matcher=fleet.matcher,
        ledger=ledger,
        run_id="r",
        actor="t",
        approved_digest=plan.digest,
    )
    assert report.complete and report.plan_digest == plan.digest


@pytest.mark.parametrize("kind", ["prompt_history", "org_file", "audit_log"])
def test_kill_after_replace_is_recognised_as_done(fleet: Fleet, tmp_path: Path, kind: str) -> None:
    """A rewrite that landed before the run died is recognised on rerun (not redone, not a conflict)."""
    full = fleet.plan()
    action = next(
        a
        for a in full.actions
        if a.kind is ActionKind.REDACT
        and a.target
        and a.target.kind == kind
        and (a.drop_lines or kind != "prompt_history")
    )
    assert action.target is not None
    plan = dataclasses.replace(full, actions=(action,))
    ledger = new_ledger(tmp_path / "ledger.jsonl")
    with pytest.raises(SimulatedKill):
        fleet.execute(plan, ledger, kill=kill_at("after_replace", 1))
    path = fleet.root(action.location) / action.target.path.lstrip("/")
    rewritten = path.read_bytes()
    report = fleet.execute(plan, ledger, run_id="run-2")
    assert [o.status for o in report.outcomes] == [ActionStatus.DONE]
    assert path.read_bytes() == rewritten
    (entry,) = list(ledger.entries())
    assert entry.record.details.get("recovered") is True
    assert entry.record.sha256_after == hashlib.sha256(rewritten).hexdigest()


def test_file_swapped_for_a_symlink_is_never_written_through(fleet: Fleet, tmp_path: Path) -> None:
    """A planned file replaced by a symlink to a file outside the tree: refused, the outside file untouched."""
    plan = fleet.plan()
    action = next(a for a in plan.actions if a.kind is ActionKind.REDACT and a.target and a.target.fmt == "jsonl")
    assert action.target is not None
    planned = fleet.root(action.location) / action.target.path.lstrip("/")
    outside = tmp_path / "outside.jsonl"
    outside.write_bytes(planned.read_bytes())
    planned.unlink()
    planned.symlink_to(outside)
    report = fleet.execute(plan, new_ledger(tmp_path / "ledger.jsonl"))
    outcome = next(o for o in report.outcomes if o.action_id == action.action_id)
    assert outcome.status in (ActionStatus.CONFLICT, ActionStatus.FAILED) and outcome.ledger_seq is None
    assert planned.is_symlink() and outside.read_bytes() == planned.read_bytes()
    assert hashlib.sha256(outside.read_bytes()).hexdigest() == action.target.sha256


def test_app_starting_mid_run_stops_further_changes(fleet: Fleet, tmp_path: Path) -> None:
    """When the app starts between two actions, the remaining actions of that endpoint are busy and untouched."""
    plan = fleet.plan()
    name = fleet.endpoints[1]["name"]
    mine = [a for a in plan.actions if a.location == name and a.kind is not ActionKind.EXCEPTION]
    assert len(mine) > 2
    first = fleet.endpoints[0]["name"]
    # Entries before the first action of `name` is recorded: all exceptions, then every action of `first`.
    target = len(plan.exceptions) + len([a for a in plan.actions if a.location == first and a not in plan.exceptions])
    calls = {"n": 0}

    def start_app(step: str) -> None:
        if step == "after_ledger":
            calls["n"] += 1
            if calls["n"] == target + 1:
                (fleet.root(name) / ".dsr-simulated-busy").write_text("1")

    report = fleet.execute(plan, new_ledger(tmp_path / "ledger.jsonl"), kill=start_app)
    statuses = [o.status for o in report.outcomes if o.location == name and o.kind is not ActionKind.EXCEPTION]
    assert statuses[0] is ActionStatus.DONE
    assert set(statuses[1:]) == {ActionStatus.BUSY}


def test_files_named_like_temp_files_are_not_ours_and_never_touched(fleet: Fleet, tmp_path: Path) -> None:
    """A user's `.dsr-tmp-*` file and a `.dsr-tmp-*` symlink beside every rewritten file survive the erasure,
    with no ledger entry, and the erasure still completes."""
    plan = fleet.plan()
    targets = {(a.location, a.target.path) for a in plan.actions if a.kind is ActionKind.REDACT and a.target}
    assert targets
    planted: list[Path] = []
    for location, path in sorted(targets):
        directory = fleet.root(location) / path.lstrip("/").rsplit("/", 1)[0]
        own = directory / f"{TEMP_PREFIX}notes"
        if not own.exists():
            own.write_bytes(b"my own notes\n")
            link = directory / f"{TEMP_PREFIX}link"
            link.symlink_to(directory / path.rsplit("/", 1)[1])
            planted += [own, link]
    ledger = new_ledger(tmp_path / "ledger.jsonl")
    report = fleet.execute(plan, ledger)
    assert report.complete, report.pending
    for path in planted:
        if path.name.endswith("link"):
            assert path.is_symlink(), path
        else:
            assert path.read_bytes() == b"my own notes\n", path
    recorded = [str(e.record.path) for e in ledger.entries()]
    assert not [p for p in recorded if f"/{TEMP_PREFIX}" in p]
    assert len(recorded) == len(plan.actions)
