"""A laptop's OS and homes recognised from the tree, however a Windows disk is mounted; coverage gaps."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.inventory import build_inventory
from connectors.layouts import Artifact, ArtifactKind, classify_path, find_gaps, iter_artifacts, list_homes
from connectors.local import LocalConnector
from detection.findings import Finding
from detection.identifiers import SubjectIdentifiers
from detection.matcher import Matcher
from detection.scan import scan_endpoint
from tests.unit.connectors.laptops import laptop_files


def _write(root: Path, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _windows_files(prefix: str) -> dict[str, bytes]:
    """The synthetic Windows laptop with its disk at `prefix` (`/C:` as SFTP shows it, `` at the root)."""
    return {prefix + path.removeprefix("/C:"): data for path, (data, _k) in laptop_files("windows").items()}


def _matcher() -> Matcher:
    return Matcher.from_identifiers(SubjectIdentifiers(("ana.lopez@corp.example",), ("Ana Lopez",), (), ()))


def _strip_drive(items: tuple[Finding, ...]) -> list[tuple[object, ...]]:
    rows = []
    for item in items:
        path = item.path.removeprefix("/C:")
        rows.append((path, item.line, item.kind, item.app, item.session_id, item.content))
    return sorted(rows, key=repr)


def test_windows_disk_at_root_gives_the_same_findings_as_under_the_drive_letter(tmp_path: Path) -> None:
    """`/C:/Users/...` (SFTP) and `/Users/...` (mounted image, restored backup) give the same findings."""
    sftp, mounted = tmp_path / "sftp", tmp_path / "mounted"
    _write(sftp, _windows_files("/C:"))
    _write(mounted, _windows_files(""))
    results = []
    for root in (sftp, mounted):
        with LocalConnector("win", root) as connector:
            result = scan_endpoint(connector, "win", _matcher(), classify=False)
        assert not result.gaps
        results.append(result)
    assert results[0].items, "the synthetic laptop names the subject"
    assert _strip_drive(results[0].items) == _strip_drive(results[1].items)
    assert results[0].files_scanned == results[1].files_scanned


def test_windows_disk_at_root_is_recognised_as_windows(tmp_path: Path) -> None:
    """Every artifact of a Windows home at the root is a Windows artifact, AppData stores included."""
    _write(tmp_path, _windows_files(""))
    with LocalConnector("win", tmp_path) as connector:
        homes, _ = list_homes(connector)
        arts = [a for a in iter_artifacts(connector) if isinstance(a, Artifact)]
    assert [(h.path, h.os) for h in homes] == [("/Users/ana", "windows")]
    expected = {p.removeprefix("/C:"): k for p, (_d, k) in laptop_files("windows").items() if k is not None}
    assert {a.item.path: a.kind for a in arts} == expected
    assert {a.os for a in arts} == {"windows"}
    assert any(a.kind is ArtifactKind.SESSION_RECORD for a in arts)


def test_drive_letters_other_than_c_and_program_data_at_root(tmp_path: Path) -> None:
    """Homes on any drive letter are found; the machine-wide service logs with or without the drive."""
    _write(tmp_path, {
        "/D:/Users/bo/AppData/Roaming/Claude/logs/main.log": b"x\n",
        "/ProgramData/Claude/Logs/coworkd/coworkd.log": b"y\n",
    })  # fmt: skip
    with LocalConnector("win", tmp_path) as connector:
        arts = {a.item.path: a for a in iter_artifacts(connector) if isinstance(a, Artifact)}
    assert arts["/D:/Users/bo/AppData/Roaming/Claude/logs/main.log"].os_user == "bo"
    assert arts["/ProgramData/Claude/Logs/coworkd/coworkd.log"].os == "windows"


def test_configured_os_overrides_the_content(tmp_path: Path) -> None:
    """`[[endpoints]] os` wins: a home forced to macOS is not read as Windows, and its AppData stores are gaps."""
    _write(tmp_path, _windows_files(""))
    with LocalConnector("win", tmp_path, os_override="macos") as connector:
        arts = [a for a in iter_artifacts(connector) if isinstance(a, Artifact)]
        gaps = find_gaps(connector)
    assert arts and {a.os for a in arts if a.os_user != "SYSTEM"} == {"macos"}
    assert not any("/AppData/" in a.item.path for a in arts)
    assert {g.relative for g in gaps} >= {"AppData/Local/Packages/AnthropicPBC.Claude_pzs8sxrjxfjjc"}


def test_classify_path_without_hints_reads_appdata_as_windows() -> None:
    """Without hints, a path through `/Users/<u>/AppData` is Windows, through `Library` macOS."""
    win = classify_path("/Users/ana/AppData/Roaming/Claude/logs/x.log")
    mac = classify_path("/Users/ana/Library/Application Support/Claude/logs/x.log")
    assert win is not None and win.os == "windows"
    assert mac is not None and mac.os == "macos"
    assert (
        classify_path("/Users/ana/Library/Application Support/Claude/logs/x.log", os_hints={"/Users/ana": "windows"})
        is None
    )


@pytest.mark.parametrize("layout", ["/C:", ""], ids=["sftp", "mounted"])
def test_unknown_agent_like_folder_is_a_reported_gap(tmp_path: Path, layout: str) -> None:
    """An agent-like folder no layout claims makes the laptop `scanned_with_gaps`, listed in scan and inventory."""
    files = _windows_files(layout)
    files[f"{layout}/Users/ana/AppData/Roaming/Claude-Nightly/sessions/s.json"] = b"{}"
    files[f"{layout}/Users/ana/.someagent-not-listed/x"] = b""  # not agent-like: no gap
    files[f"{layout}/Users/ana/.gemini-nightly/chats/c.json"] = b"{}"  # an unknown root in the home itself
    _write(tmp_path, files)
    with LocalConnector("win", tmp_path) as connector:
        result = scan_endpoint(connector, "win", _matcher(), classify=False)
        inventory = build_inventory(connector)
    found = sorted((g.relative, g.os, g.os_user) for g in result.gaps)
    assert found == [(".gemini-nightly", "windows", "ana"), ("AppData/Roaming/Claude-Nightly", "windows", "ana")]
    assert inventory.status == "scanned_with_gaps"
    assert inventory.to_dict()["gaps"] == [g.to_dict() for g in result.gaps]


def test_known_stores_are_no_gap(tmp_path: Path) -> None:
    """A laptop holding only stores the layouts read has no gap (macOS and Linux too)."""
    for os_name in ("macos", "linux"):
        root = tmp_path / os_name
        _write(root, {p: d for p, (d, _k) in laptop_files(os_name).items()})
        with LocalConnector(os_name, root) as connector:
            assert find_gaps(connector) == []
            assert build_inventory(connector).status == "scanned"
