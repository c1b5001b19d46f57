"""Tests of the `dsr fleet simulate` command."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from dsr.cli_fleet import app

runner = CliRunner()


def test_simulate_writes_fleet_and_prints_summary(tmp_path: Path) -> None:
    """The command writes the trees, truth.json and dsr.toml and prints counts and paths."""
    out = tmp_path / "fleet"
    result = runner.invoke(app, ["simulate", "--out", str(out), "--endpoints", "2", "--size-mb", "0", "--seed", "4"])
    assert result.exit_code == 0, result.output
    assert "wrote 2 laptops" in result.stdout
    assert str(out / "truth.json") in result.stdout
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    assert truth["seed"] == 4
    assert [e["name"] for e in truth["endpoints"]] == ["laptop-01", "laptop-02"]
    assert (out / "dsr.toml").is_file()


def test_simulate_refuses_foreign_directory(tmp_path: Path) -> None:
    """A non-empty directory that holds no previous simulation is refused with the path and a fix."""
    (tmp_path / "thesis.tex").write_text("mine")
    result = runner.invoke(app, ["simulate", "--out", str(tmp_path), "--endpoints", "1", "--size-mb", "0"])
    assert result.exit_code == 1
    assert str(tmp_path) in result.output
    assert "choose an empty or new directory" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["thesis.tex"]


def test_simulate_rejects_zero_endpoints(tmp_path: Path) -> None:
    """`--endpoints 0` is a usage error and writes nothing."""
    result = runner.invoke(app, ["simulate", "--out", str(tmp_path / "f"), "--endpoints", "0"])
    assert result.exit_code == 2
    assert not (tmp_path / "f").exists()
