"""An Art. 15 package safe to send: other people out of every file, no default stated as fact, scope stated.

Runs the access service end to end (scan every laptop, assemble, release check, seal) on a simulated fleet
where third parties appear beside the subject, also inside the subject's own sessions, with no staff directory
and no NER model; then reads every file of the exported package.
"""

from __future__ import annotations

import json
import re
import shutil
import unicodedata
from pathlib import Path

import pytest

from models import cases
from models.db import session_scope
from models.settings import load_settings
from models.types import RequestKind, RequestStatus
from proofs.ledger import LedgerAction
from services import access as steps
from services.evidence import ledger_for
from services.release_check import ReleaseBlockedError
from tests.integration.flows.conftest import Fleet, make_fleet

DEFAULT_SENTENCES = (
    "no one outside our organisation",
    "no decisions based solely on automated processing",
    "not transferred outside the uk and the eea",
)
EQUIVALENTS = ("no transfers", "not transferred", "no recipients", "no automated decision")
DOCS_SHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"


def _scan(fleet: Fleet, rid: str) -> None:
    settings = load_settings(fleet.config)
    for location in steps.begin_access(settings, rid):
        steps.scan_location(settings, rid, location)


def _issue(fleet: Fleet, rid: str, **kwargs: bool) -> None:
    _scan(fleet, rid)
    steps.assemble_package(load_settings(fleet.config), rid, **kwargs)


def _files(package: Path) -> dict[str, str]:
    return {
        p.relative_to(package).as_posix(): p.read_text(encoding="utf-8", errors="replace")
        for p in package.rglob("*")
        if p.is_file() and p.suffix in (".html", ".json", ".jsonl", ".csv")
    }


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()


def _phone_pattern(phone: str) -> re.Pattern[str]:
    """Any spacing of the number, international or national (0 + the number after the country code)."""
    digits = re.sub(r"\D", "", phone)
    national = "0" + digits[2:]  # the simulator's third parties are all +44
    forms = [r"[\s().\-/]{0,3}".join(digits), r"[\s().\-/]{0,3}".join(national)]
    return re.compile(r"(?<!\d)(?:" + "|".join(forms) + r")(?!\d)")


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> tuple[Fleet, str, Path]:
    """A 4-laptop fleet, an access request for s1 issued and exported."""
    root = tmp_path_factory.mktemp("safety")
    fleet = make_fleet(root, 4, seed=7)
    rid = fleet.submit(RequestKind.ACCESS)
    _issue(fleet, rid)
    return fleet, rid, fleet.package(rid, root / "delivered")


def test_no_third_party_identifier_in_any_file_and_recall_unchanged(issued: tuple[Fleet, str, Path]) -> None:
    """0 occurrences of any third party's e-mail, phone (any spacing) or name (full, or any part of three or
    more letters as a word; case- and accent-insensitive) in every file of the package, while every planted
    location of the subject is still in the copy and the subject's own identifiers are not redacted."""
    fleet, _rid, package = issued
    files = _files(package)
    assert {"report.html", "report.json", "manifest.json"} <= set(files)
    assert any(name.startswith("data/") for name in files)
    leaks: list[str] = []
    for name, text in files.items():
        folded = _fold(text)
        for person in fleet.truth["third_parties"]:
            if person["email"].casefold() in folded:
                leaks.append(f"{name}: e-mail of a third party")
            if _phone_pattern(person["phone"]).search(text):
                leaks.append(f"{name}: phone of a third party")
            full = _fold(person["name"])
            if full in folded:
                leaks.append(f"{name}: full name of a third party")
            for part in full.split():
                if len(part) >= 3 and re.search(rf"(?<![\w@.]){re.escape(part)}(?![\w@])", folded):
                    leaks.append(f"{name}: part of a third party's name")
    assert not leaks, leaks[:10]
    report = json.loads(files["report.json"])
    items = report["items"]
    found = {(i["location"].get("endpoint"), i["location"].get("path"), i["location"].get("line")) for i in items}
    planted = {
        (loc["endpoint"], loc["path"], loc["line"])
        for loc in fleet.truth["locations"]
        if loc["subject"] == "s1" and loc.get("in_agent_store", True)
    }
    missing = {p for p in planted if p not in found and (p[0], p[1], None) not in found}
    assert not missing, f"{len(missing)} planted locations missing"
    subject = next(s for s in fleet.truth["subjects"] if s["key"] == "s1")
    blob = "\n".join(files.values())
    assert subject["emails"][0] in blob and subject["name"] in blob
    assert report["redactions"]["count"] > 0
    owned = [i for i in report["items"] if i["reason"] == "owned_session" and i["redactions"]]
    assert owned, "third parties inside the subject's own sessions are redacted too"


def test_markers_are_numbered_per_conversation(issued: tuple[Fleet, str, Path]) -> None:
    """Within each data file the markers of a kind run 1..n; each file starts again at 1."""
    _fleet, _rid, package = issued
    files = {k: v for k, v in _files(package).items() if k.startswith("data/")}
    with_markers = 0
    for text in files.values():
        numbers: dict[str, set[int]] = {}
        for kind, number in re.findall(r"\[(email|phone|person|iban|card|ip|id) (\d+)\]", text):
            numbers.setdefault(kind, set()).add(int(number))
        for used in numbers.values():
            assert used == set(range(1, len(used) + 1))
        with_markers += bool(numbers)
    assert with_markers >= 2


def test_categories_come_from_the_subjects_data_only(issued: tuple[Fleet, str, Path]) -> None:
    """Third parties' IBANs and cards sit on the subject's lines: they add no Financial category."""
    _fleet, _rid, package = issued
    report = json.loads((package / "report.json").read_text(encoding="utf-8"))
    assert "financial" not in report["summary"]["by_category"]
    assert all("financial" not in i["categories"] for i in report["items"])


def test_scope_section_and_plain_language(issued: tuple[Fleet, str, Path]) -> None:
    """The scope section comes right after the summary, names every laptop with its result and what was not
    searched (vendor copies, app storage never opened); no reason code or internal message reaches the person."""
    fleet, _rid, package = issued
    page = (package / "report.html").read_text(encoding="utf-8")
    assert page.index('id="summary"') < page.index('id="scope"') < page.index('id="article15"')
    scope = page[page.index('id="scope"') : page.index('id="article15"')]
    for laptop in (e["name"] for e in fleet.truth["endpoints"]):
        assert laptop in scope
    assert "What we did not search" in scope and "AI vendor" in scope
    assert "virtual machine disk images" in scope
    for code in ("art15_4_", "scanned_with_gaps", "owned_session", "PDF engine", "Error:", "ConnectorError"):
        assert code not in page, code
    report = json.loads((package / "report.json").read_text(encoding="utf-8"))
    assert report["pdf"] in ("included", "not included")
    assert report["being_completed"] is None
    processors = report["article15"]["art15_2_transfers"]["processors"]
    assert any(p["name"] == "Anthropic PBC" and p["country"] and p["safeguard"] for p in processors)


def test_release_check_recorded_in_the_audit_trail(issued: tuple[Fleet, str, Path]) -> None:
    """The release check ran before sealing and passed; the event holds no content. Its outcome and the sealed
    package (name, manifest hash, deletion date) are signed ledger entries."""
    fleet, rid, _package = issued
    settings = load_settings(fleet.config)
    with session_scope(settings.database.url) as session:
        event = cases.last_release_check(session, rid)
        assert event is not None and event.outcome == "passed"
        request = cases.get_request(session, rid)
        assert request.status == RequestStatus.COMPLETED.value
        sealed_name, digest = Path(request.report_path or "").name, request.package_sha256
    ledger = ledger_for(settings)
    entries = [e for e in ledger.entries() if e.record.request_id == rid]
    checks = [e for e in entries if e.record.action is LedgerAction.RELEASE_CHECK]
    assert [e.record.outcome for e in checks] == ["passed"]
    [sealed] = [e for e in entries if e.record.action is LedgerAction.PACKAGE_SEALED]
    assert (sealed.record.path, sealed.record.sha256_after) == (sealed_name, digest)
    assert sealed.record.details["delete_on"]
    assert any(c.seq_to >= sealed.seq for c in ledger.checkpoints()), "the package entry is signed"


def test_empty_register_blocks_issue_unless_allowed(tmp_path: Path) -> None:
    """With an empty register the package is not issued (the error names the missing keys); with
    --allow-incomplete-register it is, and no default sentence (or equivalent) is stated as fact."""
    fleet = make_fleet(tmp_path, 2, seed=3, extra="[register]\n")
    rid = fleet.submit(RequestKind.ACCESS)
    _scan(fleet, rid)
    settings = load_settings(fleet.config)
    with pytest.raises(steps.RegisterIncompleteError) as blocked:
        steps.assemble_package(settings, rid)
    message = str(blocked.value)
    assert "register.automated_decisions" in message and "register.transfers" in message
    assert "register.categories." in message and "--allow-incomplete-register" in message
    with session_scope(settings.database.url) as session:
        request = cases.get_request(session, rid)
        assert request.report_path is None and request.status == RequestStatus.IN_PROGRESS.value
    steps.assemble_package(settings, rid, allow_incomplete_register=True)
    package = fleet.package(rid, tmp_path / "delivered")
    blob = _fold("\n".join(_files(package).values()))
    for sentence in (*DEFAULT_SENTENCES, *EQUIVALENTS):
        assert sentence not in blob, sentence
    assert "we are completing this information" in blob
    report = json.loads((package / "report.json").read_text(encoding="utf-8"))
    assert report["being_completed"]["points"]
    assert report["article15"]["h_automated_decisions"].startswith("We are completing")


def test_release_check_blocks_a_name_redaction_missed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With one source of names switched off in redaction (what the data shows), colleagues' names stay in the
    copy: the release check finds them, the package is not issued (a sealed draft is kept for the reviewer), the
    items name file, place and reason without content; released items with a reason let it issue."""
    fleet = make_fleet(tmp_path, 3, seed=7)
    rid = fleet.submit(RequestKind.ACCESS)
    _scan(fleet, rid)
    settings = load_settings(fleet.config)
    monkeypatch.setattr(steps, "REDACTION_SOURCES", ("directory", "owner", "other_request"))
    with pytest.raises(ReleaseBlockedError) as blocked:
        steps.assemble_package(settings, rid)
    items = blocked.value.items
    assert items and any(i.reason == "other_name" for i in items)
    assert all(i.file and i.place and i.reason for i in items)
    names = [p["name"] for p in fleet.truth["third_parties"]]
    with session_scope(settings.database.url) as session:
        request = cases.get_request(session, rid)
        assert request.report_path is None and request.status == RequestStatus.IN_PROGRESS.value
        event = cases.last_release_check(session, rid)
        assert event is not None and event.outcome == "blocked"
        assert not any(n.split()[-1] in event.details for n in names), "no content in the audit trail"
        assert not any(n.split()[-1] in str(blocked.value) for n in names), "no content in the error"
    draft = settings.access.package_dir / f"{rid}.draft.zip.enc"
    assert draft.exists() and not (settings.access.package_dir / rid).exists()
    staging = settings.access.package_dir / "staging" / rid  # the staged copies stay, the texts' spool does not
    assert all(p.name.endswith(".jsonl.enc") for p in staging.iterdir())
    with session_scope(settings.database.url) as session:
        for item in items:
            cases.release_item(session, rid, item.item, reason="reviewed: the colleague agreed to be named")
    steps.assemble_package(settings, rid)
    with session_scope(settings.database.url) as session:
        assert cases.get_request(session, rid).status == RequestStatus.COMPLETED.value
        assert len(cases.released_items(session, rid)) == len(items)
    assert not draft.exists()


@pytest.mark.service
def test_report_screenshots_first_screen_and_scope(issued: tuple[Fleet, str, Path]) -> None:
    """report.html in headless Chromium at 1280 px: no horizontal scrolling; screenshots of the first screen and
    of the scope section go to docs/screenshots/ (shown in the README)."""
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    _fleet, _rid, package = issued
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(chromium),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto((package / "report.html").resolve().as_uri())
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1280, f"the page is {width} px wide"
        shots = package.parent / "shots"
        shots.mkdir(exist_ok=True)
        page.screenshot(path=str(shots / "report-first-screen.png"))
        page.locator("section#scope").screenshot(path=str(shots / "report-scope.png"))
        browser.close()
    for shot in shots.glob("*.png"):
        assert shot.stat().st_size > 10_000
        if DOCS_SHOTS.is_dir():
            shutil.copy(shot, DOCS_SHOTS / shot.name)
