"""The stdlib remote scanner's pure parts: the candidate rule, symlink-free helpers, and its own source."""

from __future__ import annotations

import ast
import io
import json
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import remote_scan
from connectors.remote_scan import is_under, iter_candidate_lines, usable_literals


def _naive(data: bytes, literals: list[bytes]) -> list[tuple[int, int, bytes]]:
    found = []
    offset = 0
    for number, line in enumerate(data.split(b"\n"), start=1):
        if any(lit in line.lower() for lit in usable_literals(literals)):
            found.append((number, offset, line))
        offset += len(line) + 1
    return found


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(st.sampled_from([b"a", b"B", b"\n", b"ab", b"AB", b"\xc3\x89", b"\xc3\xa9", b"x"]), max_size=80).map(
        b"".join
    ),
    literals=st.lists(st.sampled_from([b"ab", b"b\n", b"\xc3\xa9", b"xa", b"", b"AB"]), max_size=4),
    block=st.integers(min_value=1, max_value=17),
)
def test_candidates_equal_the_naive_rule(data: bytes, literals: list[bytes], block: int) -> None:
    """For any bytes, literals and read size, candidates are exactly the lines where a literal is in line.lower()."""
    assert list(iter_candidate_lines(io.BytesIO(data).read, literals, block)) == _naive(data, literals)


def test_uppercase_literal_never_matches_and_non_ascii_is_not_folded() -> None:
    """Literals are not lowered (an upper-case literal cannot match) and É is not folded to é."""
    data = b"\xc3\x89cole\n\xc3\xa9cole\nABC\n"
    assert [c[0] for c in iter_candidate_lines(io.BytesIO(data).read, [b"\xc3\xa9cole"])] == [2]
    assert list(iter_candidate_lines(io.BytesIO(data).read, [b"ABC"])) == []
    assert [c[0] for c in iter_candidate_lines(io.BytesIO(data).read, [b"abc"])] == [3]


def test_is_under() -> None:
    """is_under compares whole path components."""
    assert is_under("/a/b", "/a")
    assert is_under("/a", "/a")
    assert is_under("/x", "/")
    assert not is_under("/ab", "/a")


def test_source_parses_as_python_37() -> None:
    """The scanner sent to laptops uses no syntax newer than Python 3.7."""
    source = Path(remote_scan.__file__).read_text(encoding="utf-8")
    ast.parse(source, feature_version=(3, 7))
    tree = ast.parse(source)
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}


def test_program_runs_from_stdin_and_streams_records(tmp_path: Path) -> None:
    """`python3 -` with the scanner plus payload on stdin walks a tree and frames inventory and hits."""
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.jsonl").write_bytes(b'{"x":"Quinn Zebedee"}\nno\n')
    payload = remote_scan.encode_payload(str(tmp_path), ["/"], [b"quinn zebedee"])
    program = Path(remote_scan.__file__).read_text() + f"\nraise SystemExit(remote_main({payload!r}))\n"
    done = subprocess.run([sys.executable, "-"], input=program.encode(), capture_output=True, check=True, timeout=30)
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["t"] for r in records] == ["hello", "i", "h", "end"]
    assert records[1]["p"] == "/d/a.jsonl"
    assert (records[2]["l"], records[2]["o"]) == (1, 0)
