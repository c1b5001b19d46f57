"""Identifiers off the command line, and intake that refuses meaningless input and accepts real input.

`dsr request submit` and `dsr scan` read identifiers from a private file or standard input; arguments still
work but draw a warning (any local user can read /proc/<pid>/cmdline). Runs the CLI in-process.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models.db import dispose_engines
from tests.unit.dsr.conftest import Invoke, assert_clean_failure

PERSIAN = "مهسا\u200cسادات امینی"  # given name written with a zero-width non-joiner
IDN_EMAIL = "jürgen@exämple.de"
SECRET = "zoe.secret@example.org"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, a SQLite case database and keys in the environment."""
    monkeypatch.chdir(tmp_path)
    for var in ("DSR_CONFIG", "PREFECT_API_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DSR_DATABASE_URL", f"sqlite:///{tmp_path / 'dsr.db'}")
    monkeypatch.setenv("DSR_HMAC_KEY", "00" * 32)
    monkeypatch.setenv("DSR_MASTER_KEY", "11" * 32)
    yield tmp_path
    dispose_engines()


def _private(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def _count(invoke: Invoke) -> int:
    result = invoke("request", "list", "--json")
    assert result.returncode == 0, result.stderr
    return len(json.loads(result.stdout))


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("ids.json", json.dumps({"email": [SECRET], "name": ["Zoë Ångström"], "user_id": "E-48213"})),
        ("ids.toml", f'email = ["{SECRET}"]\nname = "Zoë Ångström"\nuser_id = ["E-48213"]\n'),
    ],
)
def test_submit_from_a_private_file(home: Path, invoke: Invoke, name: str, text: str) -> None:
    """`--identifiers-file` (0600, JSON or TOML) records the request with every kind and draws no warning."""
    ids = _private(home / name, text)
    result = invoke("request", "submit", "--kind", "access", "--identifiers-file", str(ids), "--json")
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr
    shown = json.loads(invoke("request", "show", json.loads(result.stdout)["id"], "--json").stdout)
    assert shown["identifier_kinds"] == ["email", "name", "user_id"]


def test_submit_from_standard_input(home: Path, invoke: Invoke) -> None:
    """`--identifiers -` reads the same document from standard input."""
    result = invoke("request", "submit", "--kind", "erasure", "--identifiers", "-",
                    stdin=json.dumps({"email": SECRET, "phone": ["+44 20 7946 0958"]}))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr
    assert _count(invoke) == 1


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_identifiers_file_readable_by_others_is_refused(home: Path, invoke: Invoke, mode: int) -> None:
    """A file group or others can read is refused with the path and `chmod 600`; nothing is recorded."""
    ids = _private(home / "ids.json", json.dumps({"email": [SECRET]}), mode)
    result = invoke("request", "submit", "--kind", "access", "--identifiers-file", str(ids))
    assert_clean_failure(result, codes=(1,))
    assert str(ids) in result.stderr and "chmod 600" in result.stderr and SECRET not in result.stderr
    assert _count(invoke) == 0


@pytest.mark.parametrize(
    ("args", "stdin", "words"),
    [
        pytest.param(["--identifiers", "zoe@example.org"], "", "takes only '-'", id="not-dash"),
        pytest.param(["--identifiers", "-", "--identifiers-file", "x.json"], "{}", "not both", id="both"),
        pytest.param(["--identifiers-file", "missing.json"], "", "cannot be read", id="missing"),
        pytest.param(["--identifiers", "-"], '{"emails": ["zoe.secret@example.org"]}', "unknown key", id="key"),
        pytest.param(["--identifiers", "-"], "{}", "at least one identifier", id="empty"),
        pytest.param(["--identifiers", "-"], '{"email": "not-an-address"}', "--email", id="invalid"),
    ],
)
def test_bad_identifier_sources_are_refused(
    home: Path, invoke: Invoke, args: list[str], stdin: str, words: str
) -> None:
    """Wrong uses of the two options are one-line errors that never repeat a value."""
    result = invoke("request", "submit", "--kind", "access", *args, stdin=stdin)
    assert_clean_failure(result, codes=(1,))
    assert words in result.stderr and "zoe.secret" not in result.stderr and "not-an-address" not in result.stderr
    assert _count(invoke) == 0


def test_identifiers_as_arguments_draw_a_warning_without_values(home: Path, invoke: Invoke) -> None:
    """Arguments still work; one warning line names the risk and the alternatives, never the values."""
    result = invoke("request", "submit", "--kind", "access", "--email", SECRET, "--name", "Zoë Ångström")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "/proc/<pid>/cmdline" in warnings[0] and "--identifiers-file" in warnings[0]
    assert SECRET not in result.stderr and "Ångström" not in result.stderr


@pytest.mark.parametrize(
    ("identifiers", "code", "words"),
    [
        pytest.param({"name": "A"}, 1, "--name: needs at least two letters", id="single-letter"),
        pytest.param({"name": "A B"}, 1, "--name: needs at least two letters", id="initials"),
        pytest.param({"name": "Madonna"}, 0, "--name: a single word", id="single-word-warns"),
        pytest.param({"name": PERSIAN}, 0, "", id="zwnj"),
        pytest.param({"email": IDN_EMAIL}, 0, "", id="idn-email"),
    ],
)
def test_names_and_addresses_at_intake(
    home: Path, invoke: Invoke, identifiers: dict[str, str], code: int, words: str
) -> None:
    """`--name A` is refused, a single word warns, joiners and internationalised addresses are accepted."""
    result = invoke("request", "submit", "--kind", "access", "--identifiers", "-", stdin=json.dumps(identifiers))
    if code:
        assert_clean_failure(result, codes=(code,))
        assert _count(invoke) == 0
    else:
        assert result.returncode == 0, result.stderr
        assert _count(invoke) == 1
    assert words in result.stderr
    for value in identifiers.values():
        assert len(value) < 3 or value not in result.stderr


def test_one_byte_hmac_key_is_refused(home: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    """`DSR_HMAC_KEY=00` was accepted: now the variable and the required 32 bytes are named; nothing recorded."""
    monkeypatch.setenv("DSR_HMAC_KEY", "00")
    result = invoke("request", "submit", "--kind", "access", "--identifiers", "-", stdin='{"email": "z@example.org"}')
    assert_clean_failure(result, codes=(1,))
    assert "DSR_HMAC_KEY" in result.stderr and "32 bytes" in result.stderr
    monkeypatch.setenv("DSR_HMAC_KEY", "00" * 32)
    assert _count(invoke) == 0


@pytest.mark.parametrize(
    ("command", "option", "limit"),
    [
        (["request", "submit", "--kind", "access", "--identifiers", "-"], "--channel", 200),
        (["request", "extend", "{id}"], "--reason", 2000),
        (["request", "refuse", "{id}", "--ground", "excessive"], "--reason", 2000),
        (["request", "approve", "{id}", "--by", "Dana", "--digest", "0" * 64], "--note", 2000),
        (["request", "approve", "{id}", "--digest", "0" * 64], "--by", 200),
        (["request", "notify", "{id}", "--recipient", "Backup Ltd"], "--channel", 200),
        (["request", "notify", "{id}", "--recipient", "Backup Ltd", "--channel", "email"], "--note", 2000),
        (["request", "vendor-request", "{id}", "--processor", "Backup Ltd"], "--channel", 200),
        (["request", "vendor-request", "{id}", "--processor", "Backup Ltd", "--channel", "email"], "--reference", 200),
        (["hold", "add", "--id", "LH-9", "--case-reference", "C", "--approver", "A", "--review-date", "2027-06-01"],
         "--reason", 2000),
    ],
)  # fmt: skip
def test_oversize_free_text_is_refused_with_the_limit(
    home: Path, invoke: Invoke, command: list[str], option: str, limit: int
) -> None:
    """1 MB `--channel`, `--reason`, `--note` ... were stored: now refused with the limit (the limit itself passes)."""
    request_id = json.loads(
        invoke("request", "submit", "--kind", "erasure", "--identifiers", "-", "--json",
               stdin='{"email": "z@example.org"}').stdout
    )["id"]  # fmt: skip
    argv = [part.replace("{id}", request_id) for part in command]
    for value in ("x" * 1_000_000, "x" * (limit + 1)):
        result = invoke(*argv, option, value, stdin='{"email": "y@example.org"}')
        assert_clean_failure(result, codes=(1,), context=f"{' '.join(argv[:2])} {option}")
        assert f"{option} is longer than {limit} characters" in result.stderr
    assert _count(invoke) == 1
    if argv[1] == "submit":
        accepted = invoke(*argv, option, "x" * limit, stdin='{"email": "y@example.org"}')
        assert accepted.returncode == 0, accepted.stderr


def test_configuration_errors_never_print_values(home: Path, invoke: Invoke) -> None:
    """Hold subjects were printed in full in a configuration error: now only the key and the problem."""
    bad = home / "bad.toml"
    bad.write_text(
        '[[holds]]\nid = "H"\nreason = "r"\ncase_reference = "c"\napprover = "a"\nreview_date = "2027-01-01"\n'
        f'subjects = "{SECRET}"\n',
        encoding="utf-8",
    )
    result = invoke("--config", str(bad), "request", "list")
    assert_clean_failure(result, codes=(1,))
    assert "holds[0].subjects" in result.stderr and SECRET not in result.stderr


def _laptop(root: Path) -> Path:
    """A laptop tree with one CLI transcript naming the subjects in the spellings people and tools use."""
    transcript = root / "Users/kim/.claude/projects/-Users-kim-work/abc.jsonl"
    transcript.parent.mkdir(parents=True)
    lines = [
        {"type": "user", "sessionId": "abc", "message": {"content": f"meeting with {PERSIAN} tomorrow"}},
        {"type": "user", "sessionId": "abc", "message": {"content": "مهسا سادات امینی sent the file"}},
        {"type": "user", "sessionId": "abc", "message": {"content": f"mail {IDN_EMAIL} about it"}},
        {"type": "user", "sessionId": "abc", "message": {"content": "bounce from JÜRGEN@EXÄMPLE.DE"}},
        {"type": "user", "sessionId": "abc", "message": {"content": "header: jürgen@xn--exmple-cua.de"}},
        {"type": "user", "sessionId": "abc", "message": {"content": "nothing about anyone here"}},
    ]
    text = json.dumps(lines[0], ensure_ascii=True) + "\n"  # escaped, as agents write JSONL
    text += "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines[1:])
    transcript.write_text(text, encoding="utf-8")
    return root


def test_scan_matches_joiner_names_and_internationalised_addresses(home: Path, invoke: Invoke) -> None:
    """`dsr scan` with identifiers from a private file finds each spelling and nothing else."""
    root = _laptop(home / "laptop")
    ids = _private(home / "ids.json", json.dumps({"name": [PERSIAN], "email": [IDN_EMAIL]}))
    result = invoke("scan", str(root), "--endpoint-name", "lap", "--identifiers-file", str(ids), "--no-classify",
                    "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr
    lines = sorted(item["location"]["line"] for item in json.loads(result.stdout)["items"])
    assert lines == [1, 2, 3, 4, 5]


def test_scan_refuses_meaningless_names(home: Path, invoke: Invoke) -> None:
    """`dsr scan --name A` (118 ordinary words matched) is refused before reading a byte."""
    root = _laptop(home / "laptop")
    result = invoke("scan", str(root), "--endpoint-name", "lap", "--name", "A")
    assert_clean_failure(result, codes=(1,))
    assert "--name: needs at least two letters" in result.stderr
