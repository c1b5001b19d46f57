"""The shape of the product code: no function longer than a screen or two.

Long functions are where branches hide. Product code keeps every function at or under
``MAX_LINES`` lines (from its ``def`` line to its last line). ``simulation/`` (a synthetic
fleet generator) and ``tests/`` are not product code and are not checked.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 80

# Not product code: the synthetic fleet generator.
NOT_PRODUCT = {"simulation"}

# Alembic migrations are generated DDL (one ``op.create_table`` per table), frozen once
# released; splitting them would only make them harder to compare with the schema they made.
EXEMPT_DIRS = {Path("models/migrations/versions")}


def _product_packages() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = [p for p in config["tool"]["mypy"]["packages"] if p not in NOT_PRODUCT]
    return [*packages, "benchmarks"]


def _long_functions() -> dict[str, int]:
    found: dict[str, int] = {}
    for package in _product_packages():
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if any(rel.is_relative_to(d) for d in EXEMPT_DIRS):
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(rel))
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = (node.end_lineno or node.lineno) - node.lineno + 1
                    if length > MAX_LINES:
                        found[f"{rel.as_posix()}::{node.name}"] = length
    return found


def test_product_packages_exist() -> None:
    for package in _product_packages():
        assert (ROOT / package).is_dir(), package


def test_no_product_function_over_the_limit() -> None:
    too_long = _long_functions()
    assert not too_long, f"functions over {MAX_LINES} lines (split them by extraction): " + ", ".join(
        f"{name} ({n} lines)" for name, n in sorted(too_long.items())
    )
