"""Configuration loading: defaults, validation errors that name the key and what is allowed, never the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.errors import ConfigError
from models.settings import load_settings, settings_from_dict

EXAMPLE = Path(__file__).parents[3] / "dsr.example.toml"


def test_example_config_is_valid() -> None:
    """The shipped dsr.example.toml loads and has every documented section."""
    settings = load_settings(EXAMPLE)
    assert settings.controller.calendar == "GB-ENG"
    assert settings.endpoints and settings.stores and settings.processing_register.categories
    assert settings.retention and settings.holds


def test_minimal_config_works(tmp_path: Path) -> None:
    """Only [controller], [database] and [[endpoints]] are needed; relative SQLite paths resolve beside the file."""
    cfg = tmp_path / "dsr.toml"
    cfg.write_text(
        '[controller]\nname = "X"\n[database]\nurl = "sqlite:///.dsr/x.db"\n'
        '[[endpoints]]\nname = "lap-1"\nurl = "file:///srv/lap-1"\n'
    )
    settings = load_settings(cfg)
    assert settings.database.url == f"sqlite:///{tmp_path}/.dsr/x.db"
    assert settings.endpoints[0].scheme == "file"


def test_relative_paths_resolve_beside_the_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every relative path of the file is made absolute against the file's directory at load time (not the
    working directory); absolute paths stay as written; the state directory is `.dsr/` beside the file."""
    home = tmp_path / "conf"
    home.mkdir()
    cfg = home / "dsr.toml"
    cfg.write_text(
        '[access]\npackage_dir = "out/packages"\n[erasure]\nsigning_key = "keys/ledger.pem"\n'
        '[prefect]\nhome = "pf"\n[ssh]\nkey_file = "ssh/id"\nknown_hosts = "/etc/ssh/known"\n'
        '[[endpoints]]\nname = "lap-1"\nurl = "ssh://u@h"\nkey_file = "ssh/lap-1"\nknown_hosts = "ssh/kh"\n'
    )
    monkeypatch.chdir(tmp_path)
    settings = load_settings(Path("conf/dsr.toml"))
    monkeypatch.chdir("/")
    assert settings.access.package_dir == home / "out" / "packages"
    assert settings.erasure.signing_key == home / "keys" / "ledger.pem"
    assert settings.prefect.home == home / "pf"
    assert settings.ssh.key_file == home / "ssh" / "id"
    assert settings.ssh.known_hosts == Path("/etc/ssh/known")
    assert settings.endpoints[0].key_file == home / "ssh" / "lap-1"
    assert settings.endpoints[0].known_hosts == home / "ssh" / "kh"
    assert settings.database.url == f"sqlite:///{home}/.dsr/dsr.db"
    assert settings.state_dir == home / ".dsr"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            {"controller": {"calendar": "XX"}},
            "controller.calendar: invalid value (a string); expected a holiday",
            id="cal",
        ),
        pytest.param({"controller": {"timezone": "Mars/Base"}}, "controller.timezone: invalid value", id="tz"),
        pytest.param(
            {"endpoints": [{"name": "a", "url": "http://h"}]},
            "endpoints[0].url: invalid value (a string); expected file:",
            id="url",
        ),
        pytest.param(
            {"stores": [{"name": "s", "url": "bucket"}]},
            "stores[0].url: invalid value (a string); expected s3://",
            id="s3",
        ),
        pytest.param(
            {"stores": [{"name": "s", "url": "gs://bucket/p"}]},
            "stores[0].url: invalid value (a string); expected s3://bucket/optional/prefix "
            "(store URL schemes with a connector: s3); got 'gs://bucket/p'",
            id="unknown-scheme",
        ),
        pytest.param(
            {"stores": [{"name": "s", "url": "gs://key:secret@bucket/p"}]},
            "got 'gs://bucket/p'",
            id="unknown-scheme-userinfo",
        ),
        pytest.param(
            {"access": {"pdf_max_items": -1}},
            "access.pdf_max_items: invalid value (a integer); expected greater than or equal to 0",
            id="pdf-max-items-negative",
        ),
        pytest.param(
            {"access": {"pdf_max_items": "many"}},
            "access.pdf_max_items: invalid value (a string); expected a valid integer",
            id="pdf-max-items-word",
        ),
        pytest.param({"databse": {}}, "databse: unknown key", id="typo"),
        pytest.param({"endpoints": [{"url": "file:///x"}]}, "endpoints[0].name: missing", id="missing"),
        pytest.param(
            {"endpoints": [{"name": "a", "url": "file:///x"}, {"name": "a", "url": "file:///y"}]},
            "endpoints[1].name repeats the name of an earlier location",
            id="dup",
        ),
    ],
)
def test_invalid_values_are_named(data: dict[str, object], expected: str) -> None:
    """Each problem names the key and what is allowed, on one line."""
    with pytest.raises(ConfigError) as info:
        settings_from_dict(data, "t.toml")
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"holds": [{"id": "H", "reason": "r", "case_reference": "c", "approver": "a",
                                 "review_date": "2027-01-01", "subjects": "zoe.secret@example.org"}]}, id="hold"),
        pytest.param({"holds": [{"id": "H", "reason": "r", "case_reference": "c", "approver": "a",
                                 "review_date": "2027-01-01", "subjects": ["ok@example.org", 7],
                                 "date_from": "zoe.secret@example.org"}]}, id="hold-date"),
        pytest.param({"controller": {"calendar": "zoe.secret@example.org"}}, id="calendar"),
        pytest.param({"endpoints": [{"name": "zoe.secret", "url": "file:///a"},
                                    {"name": "zoe.secret", "url": "file:///b"}]}, id="duplicate-name"),
        pytest.param({"endpoints": [{"name": "a", "url": "ssh://zoe.secret@"}]}, id="url"),
        pytest.param({"secrets": {"master_key": ["zoe.secret@example.org"]}}, id="secret-block"),
    ],
)  # fmt: skip
def test_configuration_errors_never_print_values(data: dict[str, object]) -> None:
    """A configuration error names the key and the problem, never the value (hold subjects were printed)."""
    with pytest.raises(ConfigError) as info:
        settings_from_dict(data, "t.toml")
    message = str(info.value)
    assert "zoe.secret" not in message


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("file:///srv/laptops/lap-1", True),
        ("file://localhost/srv/laptops/lap-1", True),
        ("file://fileserver.corp/share/lap-1", False),
        ("file://127.0.0.1/srv/lap-1", False),
        ("file://user@host/srv/lap-1", False),
    ],
)
def test_file_urls_with_a_remote_host_are_refused(url: str, ok: bool) -> None:
    """`file://host/path` with a host other than empty or localhost is a configuration error naming the key."""
    data = {"endpoints": [{"name": "lap-1", "url": url}]}
    if ok:
        assert settings_from_dict(data).endpoints[0].url == url
        return
    with pytest.raises(ConfigError) as info:
        settings_from_dict(data, "t.toml")
    assert "endpoints[0].url" in str(info.value) and "ssh://" in str(info.value)
    assert url not in str(info.value)


def test_named_missing_file_is_an_error(tmp_path: Path) -> None:
    """A config file named explicitly but absent is an error with the fix."""
    with pytest.raises(ConfigError, match="DSR_CONFIG"):
        load_settings(tmp_path / "nope.toml")


def test_env_database_url_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DSR_DATABASE_URL overrides [database].url."""
    monkeypatch.setenv("DSR_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1/db")
    monkeypatch.chdir(tmp_path)
    assert load_settings().database.url == "postgresql+psycopg://u@127.0.0.1/db"


def test_example_and_simulated_registers_answer_every_category(tmp_path: Path) -> None:
    """dsr.example.toml and `dsr fleet simulate` carry a complete register: every category detection reports
    is answered, and the AI vendor is a processor with its country and transfer safeguard."""
    from detection.findings import DataCategory
    from reports.access_input import missing_register_keys
    from simulation.fleet import render_config

    simulated = tmp_path / "dsr.toml"
    simulated.write_text(render_config(tmp_path, [], seed=1), encoding="utf-8")
    for path in (EXAMPLE, simulated):
        register = load_settings(path).processing_register
        assert missing_register_keys(register, [c.value for c in DataCategory]) == [], path.name
        vendor = next(p for p in register.processors or [] if p.name == "Anthropic PBC")
        assert vendor.country and vendor.safeguard


def test_register_has_no_default_stated_as_fact() -> None:
    """Without [register], every answer is unset (None), never a sentence from code."""
    register = settings_from_dict({}).processing_register
    assert register.automated_decisions is None and register.transfers is None and register.processors is None
