"""Hostile symlinks and hard links on a `file://` laptop: never followed out of the root, loops end, all reported."""

from __future__ import annotations

import os

import pytest

from erasure.executor import ActionStatus
from erasure.plan import ActionKind
from tests.security.hostile import (
    HOME,
    PROJECT,
    SUBJECT_EMAIL,
    Laptop,
    assert_contained,
    run_pipeline,
    transcript,
)

pytestmark = pytest.mark.timeout(60)


def _escape_targets(laptop: Laptop) -> dict[str, str]:
    bob = laptop.outside / "home" / "bob" / ".claude"
    return {
        "etc_passwd_file": "/etc/passwd",
        "etc_directory": "/etc",
        "dev_zero": "/dev/zero",
        "root_home": "/root",
        "host_home_base": "/home",
        "other_user_file": str(bob / "history.jsonl"),
        "other_user_directory": str(bob),
        "relative_traversal": "../../../../../../outside/home/bob/.claude/history.jsonl",
        "relative_traversal_directory": "../../../../../../outside/home/bob/.claude/projects",
    }


CASES = [
    "etc_passwd_file",
    "etc_directory",
    "dev_zero",
    "root_home",
    "host_home_base",
    "other_user_file",
    "other_user_directory",
    "relative_traversal",
    "relative_traversal_directory",
]


@pytest.mark.parametrize("case", CASES)
def test_symlink_out_of_the_root_is_reported_and_never_followed(laptop: Laptop, case: str) -> None:
    """A link (absolute or relative) leading out of the root is `symlink_out_of_scope`, recorded as not reached
    (a gap, never an exception), never opened."""
    target = _escape_targets(laptop)[case]
    link = laptop.path(f"{PROJECT}/escape.jsonl")
    os.symlink(target, link)
    before = laptop.outside_snapshot()
    run = run_pipeline(laptop)
    assert_contained(laptop, run, before)
    path = f"/{PROJECT}/escape.jsonl"
    assert run.reasons()[path] == "symlink_out_of_scope"
    outcome = run.outcome(path)
    assert (outcome.kind, outcome.status) == (ActionKind.NOT_REACHED, ActionStatus.NOT_REACHED)
    entry = next(e.record for e in run.ledger.entries() if e.seq == outcome.ledger_seq)
    assert (entry.action, entry.outcome, entry.exception_ground) == ("skip", "not_reached", None)
    assert os.readlink(link) == target, "the link itself is left alone"
    assert run.report.complete


def test_symlinked_history_directory_to_another_home_is_refused(laptop: Laptop) -> None:
    """`~/.claude` itself pointing at another user's `.claude` outside the root yields nothing from there."""
    real = laptop.path(f"{HOME}/.claude")
    real.rename(laptop.path(f"{HOME}/claude-real"))
    os.symlink(laptop.outside / "home" / "bob" / ".claude", real)
    before = laptop.outside_snapshot()
    run = run_pipeline(laptop)
    assert_contained(laptop, run, before)
    assert run.reasons()[f"/{HOME}/.claude"] == "symlink_out_of_scope"
    assert run.scan.items == ()


def test_symlink_inside_the_root_is_followed_once_and_erased_at_its_target(laptop: Laptop) -> None:
    """A link to a file inside the root is reported under the target's path; the target is redacted, the link kept."""
    target = laptop.write(f"{HOME}/notes/shared.jsonl", transcript())
    link = laptop.path(f"{PROJECT}/linked.jsonl")
    os.symlink("../../../notes/shared.jsonl", link)
    before = laptop.outside_snapshot()
    run = run_pipeline(laptop)
    assert_contained(laptop, run, before)
    assert f"/{HOME}/notes/shared.jsonl" in run.finding_paths()
    assert run.outcome(f"/{HOME}/notes/shared.jsonl").status is ActionStatus.DONE
    assert SUBJECT_EMAIL.encode() not in target.read_bytes()
    assert link.is_symlink() and os.readlink(link) == "../../../notes/shared.jsonl"


LOOPS = {
    "self": [("self.jsonl", "self.jsonl")],
    "mutual": [("a.jsonl", "b.jsonl"), ("b.jsonl", "a.jsonl")],
    "parent": [("up", "..")],
    "ancestor_absolute": [("root", "/")],
    "dot": [("here", ".")],
    "chain_of_41": [(f"l{i}", f"l{i + 1}") for i in range(41)] + [("l41", "l0")],
}


@pytest.mark.parametrize("links", list(LOOPS.values()), ids=list(LOOPS))
def test_symlink_loops_terminate_and_are_reported(laptop: Laptop, links: list[tuple[str, str]]) -> None:
    """Self, mutual, parent and long-chain loops end the walk with a skip; the real transcript is still erased."""
    for name, target in links:
        os.symlink(target, laptop.path(f"{PROJECT}/{name}"))
    before = laptop.outside_snapshot()
    run = run_pipeline(laptop)
    assert_contained(laptop, run, before)
    reasons = run.reasons()
    first = f"/{PROJECT}/{links[0][0]}"
    assert reasons.get(first) in ("symlink_loop", "symlink_out_of_scope"), reasons
    assert any(o.kind is ActionKind.REDACT and o.status is ActionStatus.DONE for o in run.report.outcomes)
    assert run.report.complete


def test_hard_link_to_a_file_outside_is_never_written_through(laptop: Laptop) -> None:
    """A name in the root hard-linked to a file outside: erasure replaces the name; the outside file keeps its bytes."""
    shared = laptop.outside / "shared.jsonl"
    shared.write_bytes(transcript(1, 3))
    os.link(shared, laptop.path(f"{PROJECT}/hard.jsonl"))
    before = laptop.outside_snapshot()
    run = run_pipeline(laptop)
    assert run.guard.events == [] and run.guard.spawns == []
    assert laptop.outside_snapshot() == before
    assert run.outcome(f"/{PROJECT}/hard.jsonl").status is ActionStatus.DONE
    assert SUBJECT_EMAIL.encode() not in laptop.path(f"{PROJECT}/hard.jsonl").read_bytes()
    assert os.stat(shared).st_nlink == 1, "the names are separate files now"


PROBED_LOOPS = [
    ("Users/ana/Library/Logs", "Logs"),
    ("home/bob", "bob"),
    ("C:/Users/eve/AppData/Local/Packages", "Packages"),
    ("home/ana/.config", "../ana/.config"),
]


def make_probed_loops(laptop: Laptop) -> list[str]:
    """Symlink loops at directories discovery lists by name (home bases, glob parents); their laptop paths."""
    for rel, target in PROBED_LOOPS:
        path = laptop.path(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, path)
    return [f"/{rel}" for rel, _ in PROBED_LOOPS]


def assert_loops_reported(reasons: dict[str, str], paths: list[str]) -> None:
    """Each loop is reported as `symlink_loop` at its own path or at a probed path beneath it."""
    for loop in paths:
        found = {r for p, r in reasons.items() if p == loop or p.startswith(loop + "/")}
        assert found == {"symlink_loop"}, (loop, reasons)


def test_loops_where_discovery_lists_names_are_reported_not_fatal(laptop: Laptop) -> None:
    """A loop at a probed directory (`Library/Logs`, a home, `Packages`) is a skip; the laptop is still erased."""
    paths = make_probed_loops(laptop)
    before = laptop.outside_snapshot()
    run = run_pipeline(laptop)
    assert_contained(laptop, run, before)
    assert_loops_reported(run.reasons(), paths)
    assert run.outcome(f"/{PROJECT}/9a9a9a9a-0000-4000-8000-000000000002.jsonl").status is ActionStatus.DONE
