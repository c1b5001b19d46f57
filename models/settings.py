"""The configuration schema (one TOML file, validated with pydantic) and its loader.

Owns the shape of `dsr.toml`, its defaults and its error messages. Reads the file and the environment
(`DSR_CONFIG`, `DSR_DATABASE_URL`); does nothing else. Relative paths in the file are resolved here, once,
against the file's directory: no other module resolves a path against the working directory.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from models.deadline import parse_calendar
from models.errors import ConfigError, InputError
from models.store_schemes import check_store_url

DEFAULT_CONFIG_PATH = Path("dsr.toml")
DEFAULT_DATABASE_URL = "sqlite:///.dsr/dsr.db"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: What a location name may be (also checked for names given on the command line).
NAME_RE = _NAME_RE
_DEPLOYMENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]{0,99}/[A-Za-z0-9][A-Za-z0-9._ -]{0,99}")

Name = Annotated[str, Field(description="Short name: letters, digits, dot, underscore or dash; at most 64.")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


_SectionT = TypeVar("_SectionT", bound=_Section)


class AuthoritySettings(_Section):
    """The supervisory authority the person may complain to (Art. 15(1)(f))."""

    name: str = "the data protection supervisory authority"
    contact: str = "see your national data protection authority's website"


class ControllerSettings(_Section):
    """Who answers the requests and where (deadlines use this establishment's calendar)."""

    name: str = "Example Controller"
    contact: str = "privacy@example.invalid"
    timezone: str = "UTC"
    calendar: str = "GB-ENG"
    region: str | None = Field(default=None, description="Default phone region (ISO 3166); from calendar.")
    dpo_contact: str | None = None
    authority: AuthoritySettings = AuthoritySettings()

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("an IANA timezone name such as Europe/London, Europe/Berlin or UTC") from exc
        return value

    @field_validator("calendar")
    @classmethod
    def _check_calendar(cls, value: str) -> str:
        try:
            parse_calendar(value)
        except InputError as exc:
            raise ValueError(
                "a holiday calendar such as GB-ENG, GB-SCT, DE, DE-BY, FR or IE (ISO 3166 country with an "
                "optional subdivision, as supported by the 'holidays' package)"
            ) from exc
        return value.strip().upper()

    @property
    def phone_region(self) -> str:
        """Default region for phone numbers without a country code."""
        return (self.region or self.calendar.split("-")[0]).upper()

    @property
    def tz(self) -> ZoneInfo:
        """The establishment's timezone."""
        return ZoneInfo(self.timezone)


class DatabaseSettings(_Section):
    """The case database (SQLite by default; PostgreSQL via a `postgresql+psycopg://` URL)."""

    url: str = DEFAULT_DATABASE_URL

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError("a SQLAlchemy URL starting with sqlite:/// or postgresql+psycopg://")
        return value


class EndpointSettings(_Section):
    """One laptop: `file:///path` (a local tree standing for the laptop's `/`) or `ssh://user@host:port`."""

    name: Name
    url: str
    os: Literal["macos", "windows", "linux"] | None = None
    owner: str | None = Field(default=None, description="Identifier (e-mail) of the person who uses it.")
    group: str | None = None
    key_file: Path | None = None
    known_hosts: Path | None = None

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError("letters, digits, '.', '_' or '-', starting with a letter or digit, at most 64")
        return value

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme == "file":
            if parts.netloc not in ("", "localhost"):
                raise ValueError(
                    "file:///absolute/path on this machine (a host in file://host/path is not supported; "
                    "reach other machines with ssh://user@host)"
                )
            if not parts.path.startswith("/"):
                raise ValueError("file:///absolute/path")
        elif parts.scheme == "ssh":
            if not parts.hostname or not parts.username:
                raise ValueError("ssh://user@host[:port][/root]")
        else:
            raise ValueError("file:///absolute/path or ssh://user@host[:port]")
        return value

    @property
    def scheme(self) -> str:
        """`file` or `ssh`."""
        return urlsplit(self.url).scheme


class StoreSettings(_Section):
    """One central store: `s3://bucket/prefix`, or the URL of another scheme in `STORE_URL_FORMS`."""

    name: Name
    url: str
    endpoint_url: str | None = None
    region: str = "us-east-1"

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        check_store_url(value)
        return value

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return EndpointSettings._check_name(value)


class RegisterCategory(_Section):
    """One data category of the processing register: the Art. 15(1)(a)-(h) answers for it.

    Nothing here has a default that states a fact: a key left out is "not set", and an access package that
    finds the category is not issued until it is set (or is issued saying the answer is being completed).
    """

    title: str | None = None
    purposes: list[str] | None = None
    legal_basis: str | None = None
    recipients: list[str] | None = Field(default=None, description="Recipients by name; [] when there are none.")
    retention: str | None = None
    source: str | None = None
    transfers: str | None = Field(default=None, description="Art. 15(2) safeguards for third countries.")


class RegisterProcessor(_Section):
    """A processor or other recipient named in the register, with where it processes and the safeguard."""

    name: str
    role: str = Field(description="What it does for the controller, e.g. 'AI assistant provider (processor)'.")
    country: str = Field(description="Where it processes the data, e.g. 'United States'.")
    safeguard: str | None = Field(
        default=None, description="Art. 15(2)/46 safeguard for a third country; unset inside the UK/EEA."
    )


class RegisterSettings(_Section):
    """The controller's processing register, keyed by category code (`contact`, `identifiers`, ...).

    No key has a factual default: `automated_decisions`, `transfers` and `processors` unset are reported as
    missing when an access package is issued.
    """

    categories: dict[str, RegisterCategory] = {}
    automated_decisions: str | None = None
    transfers: str | None = None
    processors: list[RegisterProcessor] | None = None
    complete_by: date | None = Field(
        default=None, description="When missing register answers will be completed (said in an incomplete report)."
    )


class DirectorySettings(_Section):
    """The organisation's staff directory export (CSV with a header row, or JSON: a list of objects).

    Columns / keys read: `name`, `email`, `phone`, `id` (each may hold several values separated by `;`).
    Its people are never the subject unless they match the subject's identifiers; their data are redacted.
    """

    path: Path
    format: Literal["csv", "json"] | None = Field(default=None, description="From the file extension if unset.")


class SSHSettings(_Section):
    """Defaults for `ssh://` endpoints."""

    key_file: Path | None = None
    known_hosts: Path | None = None
    connect_timeout: float = Field(default=5.0, gt=0)
    max_workers: int = Field(
        default=8,
        ge=1,
        le=256,
        description="Accepted so older configuration files still load; it has no effect: `[access].max_workers` "
        "bounds how many laptops (SSH or not) are scanned, discovered or erased at once.",
    )


#: Default of `[access].pdf_max_items`: report.pdf holds the records of a copy up to this long; a longer copy
#: is printed without them (report.html and data/ hold them all).
PDF_MAX_ITEMS = 1000


class AccessSettings(_Section):
    """Access requests: the sweep over pending locations and when a package is issued with gaps."""

    sweep_cron: str = "0 * * * *"
    issue_with_gaps_days_before_deadline: int = Field(default=3, ge=0)
    max_workers: int = Field(default=8, ge=1, le=256)
    local_scans: int = Field(
        default=1,
        ge=1,
        le=256,
        description="`file://` laptops an access run's process scans at once (of its `max_workers`): they are read "
        "and searched in this process, whose Python runs one thread at a time; several at once only slow each other "
        "down. SSH laptops and stores go ahead beside them.",
    )
    locations_per_task: int = Field(
        default=1,
        ge=1,
        le=1000,
        description="Locations one scan task takes in turn: 1 gives every laptop its own task run (and Prefect "
        "retries); more cuts the per-task overhead of very large fleets of small laptops.",
    )
    scan_deployment: str = Field(
        default="",
        description="`<flow>/<deployment>` of the scan deployment (`access-scan/access-scan`): the access run "
        "submits its batches of `locations_per_task` locations as child runs of it, which any worker of its pool "
        "picks up; empty: the batches run in the access run's own process.",
    )
    scan_timeout_minutes: float = Field(
        default=120,
        gt=0,
        description="With `scan_deployment`: how long the access run waits for one child scan run (from its "
        "submission); one not finished by then is cancelled and its unfinished locations stay pending.",
    )
    package_dir: Path = Path(".dsr/packages")
    pdf_max_items: int = Field(
        default=PDF_MAX_ITEMS,
        ge=0,
        description="Records of the copy report.pdf prints at most: a longer copy is printed as the report "
        "without the records, each conversation listed with its count (only the counts per laptop when there are "
        "more conversations than this too); report.html and data/ hold them all.",
    )
    delivery_window_days: int = Field(
        default=30, ge=1, description="Days a sealed package is kept after issue; then only its hash remains."
    )
    allow_incomplete_register: bool = Field(
        default=False,
        description="Issue packages whose register answers are incomplete (the report says what is being completed).",
    )
    ner_model: str = Field(
        default="en_core_web_lg",
        description="spaCy model for names (PERSON), used only when installed; never downloaded.",
    )

    @field_validator("scan_deployment")
    @classmethod
    def _check_scan_deployment(cls, value: str) -> str:
        if value and not _DEPLOYMENT_RE.fullmatch(value):
            raise ValueError("empty, or `<flow>/<deployment>` such as access-scan/access-scan")
        return value


class Art17Exception(_Section):
    """An Art. 17(3) ground that keeps matching items out of erasure (per item, never the whole request)."""

    ground: Literal["freedom_of_expression", "legal_obligation", "public_interest_health", "archiving", "legal_claims"]
    reason: str
    endpoints: list[str] = []
    paths: list[str] = Field(default=[], description="Glob patterns over laptop paths or S3 keys.")
    kinds: list[str] = Field(default=[], description="Artifact kinds, e.g. audit_log.")


class ErasureSettings(_Section):
    """How erasure decides and proves."""

    mainly_about_share: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="A session whose share of records naming the person is at least this is deleted whole.",
    )
    exceptions: list[Art17Exception] = []
    signing_key: Path | None = Field(default=None, description="Ed25519 PEM for ledger checkpoints (mode 600).")
    checkpoint_every: int = Field(default=100, ge=1)
    on_gaps: Literal["complete_with_gaps", "stay_open"] = Field(
        default="complete_with_gaps",
        description="When items could not be read or changed (not reached): close the request as "
        "`completed_with_gaps` (gaps listed in the certificate), or keep it `in_progress` until they are dealt with.",
    )
    four_eyes: bool = Field(
        default=False,
        description="Refuse an approval by the operating-system user who submitted the request (four eyes).",
    )


class EvidenceSettings(_Section):
    """Optional evidence bucket for packages and certificates."""

    bucket: str
    endpoint_url: str | None = None
    region: str = "us-east-1"
    sse: str = "AES256"
    retention_days: int = Field(default=0, ge=0, description="Object Lock retention; 0 for none.")
    link_expiry_hours: int = Field(default=72, ge=1, le=168)


class SecretBlockSettings(_Section):
    """Prefect Secret blocks holding keys (used when the matching environment variable is not set)."""

    master_key: str | None = Field(default=None, description="Block with DSR_MASTER_KEY (hex).")
    hmac_key: str | None = Field(default=None, description="Block with DSR_HMAC_KEY (hex).")
    ledger_signing_key: str | None = Field(default=None, description="Block with the ledger key (PEM or hex).")


class ScheduleSettings(_Section):
    """Cron schedules of the scheduled deployments (controller's timezone)."""

    deadline_watch: str = Field(default="0 7 * * *", description="Daily: overdue marks, warnings, the sweep.")
    retention_dry_run: str = Field(default="0 6 * * 1", description="Weekly dry run of the purge.")
    retention_purge: str | None = Field(default=None, description="Real purge; off until set (e.g. '0 2 * * *').")
    warn_days_before_deadline: int = Field(default=7, ge=0)


class NotificationSettings(_Section):
    """Deadline alerts (warnings and overdue requests): a webhook and/or e-mail over SMTP. Off until set.

    Messages carry a request id, its kind, its due date and the days left, never an identifier.
    """

    webhook_url: str | None = Field(default=None, description="POST one JSON object per alert (http or https).")
    smtp_host: str | None = Field(default=None, description="Mail server for e-mail alerts.")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = True
    smtp_username: str | None = Field(default=None, description="Login; the password is read from DSR_SMTP_PASSWORD.")
    mail_from: str | None = None
    mail_to: list[str] = []
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook(cls, value: str | None) -> str | None:
        if value is not None and (urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).hostname):
            raise ValueError("an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _check_mail(self) -> NotificationSettings:
        if self.smtp_host and (not self.mail_from or not self.mail_to):
            raise ValueError("[notifications] smtp_host needs mail_from and mail_to (the team's addresses)")
        return self

    @property
    def enabled(self) -> bool:
        """Whether any channel is configured."""
        return bool(self.webhook_url or self.smtp_host)


class PrefectSettings(_Section):
    """The local Prefect server that `dsr server start` runs (UI and API on loopback)."""

    host: str = Field(default="127.0.0.1", description="Address the UI and API listen on (loopback by default).")
    port: int = Field(default=4200, ge=1, le=65535)
    auth: bool = Field(
        default=True, description="Basic authentication on the UI and API of `dsr server start` (on by default)."
    )
    auth_file: Path | None = Field(
        default=None, description="The server credential file (mode 600); default .dsr/prefect-auth.key."
    )
    home: Path = Field(default=Path(".dsr/prefect"), description="PREFECT_HOME for the server and flows.")
    database_url: str | None = Field(
        default=None, description="Prefect's own database (postgresql+asyncpg://...); default SQLite in home."
    )
    serve_limit: int = Field(default=8, ge=1, description="Flow runs the serve process runs at once.")
    startup_timeout: int = Field(
        default=300,
        ge=1,
        le=3600,
        description="Seconds `dsr request run` waits for its temporary Prefect server to answer (1 to 3600).",
    )
    flow_run_retention_days: int = Field(
        default=30, ge=0, description="Days after a request closes before its Prefect flow runs are deleted."
    )

    @property
    def api_url(self) -> str:
        """The API URL flows and the CLI use."""
        return f"http://{self.host}:{self.port}/api"


class RetentionPolicy(_Section):
    """One retention policy: what it disposes of (its unit), after how long, from which trigger.

    `unit = "conversation"` disposes of whole conversations: every file of each session, of every agent,
    wherever its store nests it (it takes no `kinds`). `unit = "kinds"` (the default) names artifact kinds;
    a kind that is a session's anchor (`session_record`, `code_session_record`, `transcript` of a CLI
    session) still takes the whole session, other kinds go file by file and the plan lists, per
    conversation, exactly which of its files stay.
    """

    name: Name
    unit: Literal["conversation", "kinds"] = "kinds"
    kinds: list[str] = []
    period_days: int = Field(ge=0)
    trigger: Literal["last_activity", "creation", "file_age", "end_of_year"] = "last_activity"
    action: Literal["delete", "redact"] = "delete"
    version: str = "1"
    endpoint_group: str | None = None

    @model_validator(mode="after")
    def _unit_and_kinds(self) -> RetentionPolicy:
        if self.unit == "conversation" and self.kinds:
            raise ValueError(
                f"retention policy {self.name!r}: unit 'conversation' disposes of every file of each "
                'conversation across every agent and takes no kinds; remove kinds, or set unit = "kinds" '
                "to name artifact kinds"
            )
        if self.unit == "conversation" and self.action != "delete":
            raise ValueError(f"retention policy {self.name!r}: unit 'conversation' takes action 'delete' only")
        if self.unit == "kinds" and not self.kinds:
            raise ValueError(
                f"retention policy {self.name!r} names no kinds: list artifact kinds (kinds = [...]) or dispose "
                'of whole conversations with unit = "conversation"'
            )
        return self


class DispositionSettings(_Section):
    """`[disposition]`: how real retention purges are signed off."""

    review: bool = Field(
        default=True,
        description="A real purge deletes nothing until a named reviewer approves its plan's digest.",
    )


class HoldSettings(_Section):
    """One legal hold (filled by the retention issue)."""

    id: Name
    reason: str
    case_reference: str
    approver: str
    review_date: date
    subjects: list[str] = []
    endpoints: list[str] = []
    paths: list[str] = []
    date_from: date | None = None
    date_to: date | None = None


class Settings(_Section):
    """The whole `dsr.toml`."""

    controller: ControllerSettings = ControllerSettings()
    database: DatabaseSettings = DatabaseSettings()
    endpoints: list[EndpointSettings] = []
    stores: list[StoreSettings] = []
    processing_register: RegisterSettings = Field(default=RegisterSettings(), alias="register")
    directory: DirectorySettings | None = None
    ssh: SSHSettings = SSHSettings()
    access: AccessSettings = AccessSettings()
    erasure: ErasureSettings = ErasureSettings()
    evidence: EvidenceSettings | None = None
    prefect: PrefectSettings = PrefectSettings()
    schedules: ScheduleSettings = ScheduleSettings()
    notifications: NotificationSettings = NotificationSettings()
    secrets: SecretBlockSettings = SecretBlockSettings()
    retention: list[RetentionPolicy] = []
    disposition: DispositionSettings = DispositionSettings()
    holds: list[HoldSettings] = []
    source: Path | None = Field(default=None, exclude=True)
    base_dir: Path | None = Field(
        default=None, exclude=True, description="The directory relative paths were resolved against (load_settings)."
    )

    @model_validator(mode="after")
    def _unique_names(self) -> Settings:
        seen: set[str] = set()
        names = [(f"endpoints[{i}].name", ep.name) for i, ep in enumerate(self.endpoints)]
        names += [(f"stores[{i}].name", st.name) for i, st in enumerate(self.stores)]
        for key, name in names:
            if name in seen:
                raise ValueError(f"{key} repeats the name of an earlier location; location names must be unique")
            seen.add(name)
        return self

    def endpoint(self, name: str) -> EndpointSettings:
        """The endpoint called `name`."""
        for ep in self.endpoints:
            if ep.name == name:
                return ep
        raise ConfigError(f"no endpoint named {name!r} in the configuration", key="endpoints", value=name)

    @property
    def state_dir(self) -> Path:
        """`.dsr/` beside the configuration file (or in the working directory when there is no file): keys,
        logs, server state, pending purge plans."""
        return (self.base_dir if self.base_dir is not None else Path.cwd()) / ".dsr"

    def resolve_paths(self, base: Path) -> Settings:
        """These settings with every relative path made absolute against `base` (the configuration file's
        directory): the SQLite database, `[access].package_dir`, `[directory].path`, `[erasure].signing_key`,
        `[prefect].home` and `auth_file`, and the SSH key and known_hosts files of `[ssh]` and each endpoint."""

        def update(section: _SectionT, *names: str) -> _SectionT:
            changes: dict[str, Path] = {}
            for name in names:
                path: Path | None = getattr(section, name)
                if path is not None and not path.is_absolute():
                    changes[name] = base / path
            return section.model_copy(update=changes)

        url = self.database.url
        relative = not url.startswith(("sqlite:////", "sqlite:///file:")) and url != "sqlite:///:memory:"
        if url.startswith("sqlite:///") and relative:
            url = "sqlite:///" + str(base / url.removeprefix("sqlite:///"))
        return self.model_copy(
            update={
                "base_dir": base,
                "database": self.database.model_copy(update={"url": url}),
                "access": update(self.access, "package_dir"),
                "directory": update(self.directory, "path") if self.directory is not None else None,
                "erasure": update(self.erasure, "signing_key"),
                "prefect": update(self.prefect, "home", "auth_file"),
                "ssh": update(self.ssh, "key_file", "known_hosts"),
                "endpoints": [update(e, "key_file", "known_hosts") for e in self.endpoints],
            }
        )

    @property
    def record_keeping(self) -> timedelta:
        """How long closed requests keep their identifiers before pseudonymisation (house default)."""
        return timedelta(days=365)


def _key_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _lookup(data: Any, loc: tuple[int | str, ...]) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def format_validation_error(exc: ValidationError, data: dict[str, Any], source: str) -> str:
    """One line naming each bad key and what is allowed; never a value (it may be personal data or a secret)."""
    problems = []
    for err in exc.errors():
        key = _key_path(tuple(err["loc"])) or "(top level)"
        if err["type"] == "extra_forbidden":
            problems.append(f"{key}: unknown key; remove it or check its spelling (see dsr.example.toml)")
            continue
        if err["type"] == "missing":
            problems.append(f"{key}: missing; this key is required")
            continue
        msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Input should be ")
        if err["type"] == "value_error" and not err["loc"]:
            problems.append(msg)
            continue
        kind = type(_lookup(data, tuple(err["loc"]))).__name__
        problems.append(f"{key}: invalid value (a {_TOML_TYPES.get(kind, kind)}); expected {msg}")
    return f"invalid configuration in {source}: " + "; ".join(problems)


_TOML_TYPES = {"str": "string", "int": "integer", "float": "float", "bool": "boolean", "list": "array",
               "dict": "table", "NoneType": "missing value", "date": "date", "datetime": "date-time"}  # fmt: skip


def settings_from_dict(data: dict[str, Any], source: str = "<config>") -> Settings:
    """Validate a parsed TOML document."""
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, data, source), key="config") from None


def resolve_config_path(path: Path | None) -> tuple[Path, bool]:
    """The configuration path to use and whether the user named it (flag or `DSR_CONFIG`)."""
    if path is not None:
        return path, True
    env = os.environ.get("DSR_CONFIG")
    if env:
        return Path(env), True
    return DEFAULT_CONFIG_PATH, False


def load_settings(path: Path | None = None) -> Settings:
    """Load and validate the configuration.

    The file is `path`, else `$DSR_CONFIG`, else `./dsr.toml`. When the default file does not exist the
    embedded defaults apply (SQLite under `.dsr/`, no endpoints). `DSR_DATABASE_URL` overrides
    `[database].url`. Relative paths (the SQLite file, package directory, signing key, Prefect home, SSH key
    and known_hosts files) are resolved against the directory of the config file (without a file: the
    working directory at load time); `state_dir` is `.dsr/` there.

    Raises:
        ConfigError: the named file is missing or unreadable, not TOML, or invalid (one line per problem).
    """
    config_path, named = resolve_config_path(path)
    data: dict[str, Any] = {}
    if config_path.exists():
        try:
            data = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_path} is not valid TOML: {exc}", key="config") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {config_path}: {exc.__class__.__name__}", key="config") from None
    elif named:
        raise ConfigError(
            f"configuration file {config_path} does not exist; pass --config PATH or set DSR_CONFIG, "
            "or copy dsr.example.toml to dsr.toml",
            key="config",
        )
    env_url = os.environ.get("DSR_DATABASE_URL")
    if env_url:
        data = {**data, "database": {**data.get("database", {}), "url": env_url}}
    settings = settings_from_dict(data, str(config_path))
    base = config_path.resolve().parent if config_path.exists() else Path.cwd().resolve()
    return settings.resolve_paths(base).model_copy(update={"source": config_path})
