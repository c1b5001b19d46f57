"""`dsr doctor`: checks a set-up before a request depends on it; one result per check, each failure with its fix.

Plain Python (no Prefect). Reads the configuration, the case database's schema version, key files' modes,
each endpoint's host key and scanner, each store's bucket settings, the register and the Prefect server's
health endpoint. Writes nothing, creates nothing, reads no file on a laptop and no object in a store.
"""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlmodel import select

from connectors.registry import evidence_state, evidence_url, open_endpoint, store_state
from connectors.ssh import SSHConnector, SSHTarget
from detection.findings import DataCategory
from models.db import schema_status, session_scope
from models.errors import (
    AuthenticationError,
    ConfigError,
    ConnectorError,
    HostKeyMismatchError,
    HostKeyUnknownError,
    ItemNotFoundError,
    UnreachableError,
)
from models.files import check_private
from models.server_auth import CLIENT_ENV, auth_file, basic_auth_header, client_credential
from models.settings import EndpointSettings, Settings, load_settings, resolve_config_path
from models.tables import Request
from proofs.ledger import DEFAULT_KEY_FILENAME
from reports.access_input import missing_register_keys

OK, FAIL, INFO = "ok", "fail", "info"
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?LW#-]+$")


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report: what was checked, how it went, and what to do when it failed."""

    name: str
    status: str
    detail: str
    fix: str = ""

    @property
    def passed(self) -> bool:
        """Only a failure fails (`info` is what the user should know, not a fault)."""
        return self.status != FAIL

    def as_dict(self) -> dict[str, str]:
        """JSON-ready."""
        return {"check": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


def check_configuration(config: Path | None) -> tuple[Check, Settings | None]:
    """The configuration file (or the embedded defaults) and its validity."""
    path, named = resolve_config_path(config)
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        return Check("configuration", FAIL, str(exc), "correct the keys named; dsr.example.toml documents each"), None
    if not path.exists() and not named:
        detail = f"no {path} here: embedded defaults, state in {settings.state_dir}"
        return Check("configuration", INFO, detail, "copy dsr.example.toml to dsr.toml to configure"), settings
    return Check("configuration", OK, f"{path.resolve()} is valid"), settings


def check_database(settings: Settings) -> tuple[Check, int | None]:
    """The case database: reachable and at the newest schema; also how many requests it holds."""
    url = settings.database.url
    try:
        current, head = schema_status(url)
    except ConfigError as exc:
        if "does not exist yet" in str(exc):
            return Check("database", INFO, str(exc), "the first `dsr request ...` command creates it (mode 600)"), 0
        return Check("database", FAIL, str(exc), "check [database].url / DSR_DATABASE_URL and the server"), None
    if current != head:
        return (
            Check(
                "database",
                FAIL,
                f"schema at {current or 'none'}, newest is {head}",
                "run any `dsr request` command (it migrates), e.g. `dsr request list`",
            ),
            None,
        )
    with session_scope(url) as session:  # at the newest schema already: nothing is migrated
        count = len(session.exec(select(Request.id)).all())
    return Check("database", OK, f"reachable, schema {head}, {count} request(s)"), count


def _key_check(
    name: str, env_var: str, path: Path, *, needed: bool, block: str | None = None, env: Mapping[str, str]
) -> Check:
    if env.get(env_var):
        return Check(name, OK, f"from {env_var}")
    if block:
        return Check(name, INFO, f"from the Prefect Secret block {block!r} ([secrets])")
    if not path.exists():
        if needed:
            return Check(
                name,
                FAIL,
                f"{path} is missing but the case database holds requests that need it",
                f"restore {path} from your backup (mode 600) or set {env_var}",
            )
        return Check(name, INFO, f"{path} not created yet", "created (mode 600) on first use")
    try:
        check_private(path, "key file")
    except ConfigError as exc:
        return Check(name, FAIL, str(exc).split("; run:")[0], f"chmod 600 {path}")
    return Check(name, OK, f"{path} present, private")


def check_keys(settings: Settings, requests: int | None, env: Mapping[str, str]) -> list[Check]:
    """The master key, the identifiers' HMAC key, the ledger signing key, the Prefect server's credential and SSH
    keys: present and private."""
    state = settings.state_dir
    needed = bool(requests)
    checks = [
        _key_check("key master", "DSR_MASTER_KEY", state / "master.key", needed=needed,
                   block=settings.secrets.master_key, env=env),
        _key_check("key hmac", "DSR_HMAC_KEY", state / "hmac.key", needed=needed,
                   block=settings.secrets.hmac_key, env=env),
        _key_check("key ledger-signing", "DSR_LEDGER_SIGNING_KEY",
                   settings.erasure.signing_key or state / DEFAULT_KEY_FILENAME, needed=False,
                   block=settings.secrets.ledger_signing_key, env=env),
    ]  # fmt: skip
    if settings.prefect.auth:  # the server's credential (created by the first `dsr server start`)
        checks.append(_key_check("key server-credential", CLIENT_ENV, auth_file(settings), needed=False, env=env))
    ssh_keys = {ep.key_file or settings.ssh.key_file for ep in settings.endpoints if ep.url.startswith("ssh://")}
    for key_file in sorted(k for k in ssh_keys if k is not None):
        if not key_file.exists():
            checks.append(
                Check("key ssh", FAIL, f"{key_file} is missing", "create it (ssh-keygen -t ed25519) or fix key_file")
            )
            continue
        try:
            check_private(key_file, "ssh key file")
        except ConfigError as exc:
            checks.append(Check("key ssh", FAIL, str(exc).split("; run:")[0], f"chmod 600 {key_file}"))
            continue
        checks.append(Check("key ssh", OK, f"{key_file} present, private"))
    return checks


def _host_spec(target: SSHTarget) -> str:
    return target.host if target.port == 22 else f"[{target.host}]:{target.port}"


def check_endpoint(endpoint: EndpointSettings, settings: Settings) -> Check:
    """A laptop: a local tree exists; an SSH laptop answers, its host key matches, the key is accepted, its root
    exists; and whether its python3 runs the remote scanner."""
    name = f"endpoint {endpoint.name}"
    parts = urlsplit(endpoint.url)
    if parts.scheme == "file":
        root = Path(unquote(parts.path))
        if root.is_dir() and os.access(root, os.R_OK | os.X_OK):
            return Check(name, OK, f"local tree {root} readable")
        return Check(name, FAIL, f"local tree {root} is missing or unreadable", "fix the url or mount the directory")
    known_hosts = endpoint.known_hosts or settings.ssh.known_hosts
    target = SSHTarget.parse(endpoint.url)
    where = f"{target.host}:{target.port}"
    keyscan = f"ssh-keyscan -p {target.port} {target.host} >> {known_hosts}"
    try:
        connector = open_endpoint(endpoint, settings)
        assert isinstance(connector, SSHConnector)  # noqa: S101 - ssh:// URLs give SSH connectors
        with connector:
            connector.check()
            scanner = connector.scanner_runs()
    except HostKeyMismatchError:
        return Check(
            name,
            FAIL,
            f"{where}: host key MISMATCH with {known_hosts} (reinstalled laptop, or someone in between)",
            f"confirm the new key's fingerprint with the laptop's owner, then: ssh-keygen -R '{_host_spec(target)}' "
            f"-f {known_hosts} && {keyscan}",
        )
    except HostKeyUnknownError:
        return Check(
            name,
            FAIL,
            f"{where}: host key unknown (not in {known_hosts})",
            f"after confirming the fingerprint: {keyscan}",
        )
    except AuthenticationError:
        key = endpoint.key_file or settings.ssh.key_file
        return Check(
            name,
            FAIL,
            f"{where}: host key matches; our key was refused",
            f"add {key}.pub to the laptop's authorized_keys",
        )
    except UnreachableError:
        return Check(
            name,
            FAIL,
            f"{where}: unreachable (asleep, off, or no route)",
            "wake it or check the network; requests leave it pending and the sweep retries",
        )
    except ItemNotFoundError:
        return Check(
            name, FAIL, f"{where}: host key matches, but the root {target.root or '/'} is missing", "fix the url's path"
        )
    except (ConfigError, ConnectorError) as exc:
        return Check(name, FAIL, f"{where}: {exc}", "fix the endpoint's settings ([[endpoints]] or [ssh])")
    runs = "the remote scanner runs" if scanner else "no usable python3: scans stream files over SFTP (slower)"
    return Check(name, OK, f"{where}: host key matches {known_hosts}; key accepted; {runs}")


def check_stores(settings: Settings) -> list[Check]:
    """Every store (and the evidence bucket): reachable, with its versioning and Object Lock state."""
    checks = []
    for store in settings.stores:
        name = f"store {store.name}"
        try:
            st = store_state(store)
        except (ConnectorError, ConfigError) as exc:
            checks.append(
                Check(name, FAIL, f"{store.url}: {exc}", "check the bucket name, endpoint_url and the AWS credentials")
            )
            continue
        lock = "on" if st.object_lock else "off"
        checks.append(Check(name, OK, f"{store.url} reachable; versioning {st.versioning}; Object Lock {lock}"))
    evidence = settings.evidence
    if evidence is not None:
        url = evidence_url(evidence)
        try:
            st = evidence_state(evidence)
        except (ConnectorError, ConfigError) as exc:
            checks.append(Check("store evidence", FAIL, f"{url}: {exc}", "create the bucket or fix [evidence]"))
            return checks
        if evidence.retention_days and not st.object_lock:
            checks.append(
                Check(
                    "store evidence",
                    FAIL,
                    f"{url}: retention_days is set but the bucket has no Object Lock",
                    "create the evidence bucket with Object Lock enabled, or set retention_days = 0",
                )
            )
        else:
            checks.append(
                Check("store evidence", OK, f"{url} reachable; Object Lock {'on' if st.object_lock else 'off'}")
            )
    return checks


def check_register(settings: Settings) -> Check:
    """The register answers every Art. 15 point an access package needs, for every category the detectors can
    report (the same rule that blocks issuing a package: `reports.access_input.missing_register_keys`)."""
    missing = missing_register_keys(settings.processing_register, [c.value for c in DataCategory])
    if missing:
        return Check(
            "register",
            FAIL,
            f"not set: {', '.join(missing)} (an access package that needs them is not issued)",
            "set those keys as in dsr.example.toml (or allow incomplete registers: [access].allow_incomplete_register)",
        )
    return Check("register", OK, f"all {len(DataCategory)} detectable categories have their answers")


def _api_status(url: str, credential: str | None, timeout: float) -> int | None:
    """HTTP status of `GET {url}/admin/version` (an API call the server authenticates, unlike /health); None
    when nothing answers."""
    request = urllib.request.Request(f"{url}/admin/version", headers=basic_auth_header(credential))  # noqa: S310 - http(s) URL checked by the caller
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - http(s) URL checked by the caller
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, ValueError):
        return None


def _refuses_anonymous(url: str, timeout: float) -> bool:
    """Whether the server refuses an API call without a credential (it has authentication on)."""
    return _api_status(url, None, timeout) == 401


def check_prefect(settings: Settings, env: Mapping[str, str], timeout: float = 3.0) -> Check:
    """The Prefect server: reachable and authenticated. Must answer when PREFECT_API_URL is set (otherwise
    whether it runs is only told); must take our credential; the configured server of `dsr server start` must
    refuse a call without one unless `[prefect].auth` is off."""
    named = env.get("PREFECT_API_URL")
    url = (named or settings.prefect.api_url).rstrip("/")
    if not url.startswith(("http://", "https://")):
        return Check("prefect", FAIL, f"PREFECT_API_URL {url} is not an http(s) URL", "set it to http://HOST:PORT/api")
    try:
        # The credential file belongs to the configured server: another URL gets only an explicit credential.
        credential = client_credential(settings, env) if url == settings.prefect.api_url else env.get(CLIENT_ENV)
    except ConfigError as exc:
        return Check("prefect", FAIL, str(exc).split("; run:")[0], f"chmod 600 {auth_file(settings)}")
    status = _api_status(url, credential, timeout)
    if status is None:
        if named:
            return Check(
                "prefect", FAIL, f"{url} does not answer", "start it with `dsr server start`, or unset PREFECT_API_URL"
            )
        return Check(
            "prefect", INFO, f"not running at {url}", "`dsr server start` starts the UI; CLI runs work without it"
        )
    if status in (401, 403):
        have = "refuses our credential" if credential else "requires a credential and we have none"
        return Check(
            "prefect",
            FAIL,
            f"{url} {have} (HTTP {status})",
            f"set {CLIENT_ENV} to the server's `user:password`, or [prefect].auth_file to its credential file",
        )
    if status != 200:
        return Check("prefect", FAIL, f"{url} answered HTTP {status}", "check the server's log (.dsr/logs/)")
    if credential is None or not _refuses_anonymous(url, timeout):
        if url == settings.prefect.api_url and settings.prefect.auth:
            return Check(
                "prefect",
                FAIL,
                f"{url} answers API calls without a credential",
                "restart it with `dsr server stop` and `dsr server start` (authentication is on by default)",
            )
        return Check("prefect", INFO, f"{url} reachable, without authentication", "anyone who reaches it controls it")
    return Check("prefect", OK, f"{url} reachable and authenticated (refuses calls without the credential)")


def _valid_cron(expression: str) -> bool:
    fields = expression.split()
    return len(fields) == 5 and all(_CRON_FIELD.match(f) for f in fields)


def check_schedules(settings: Settings) -> Check:
    """The scheduled deployments have valid cron schedules (the real purge may be off)."""
    schedules: dict[str, str | None] = {
        "deadline-watch": settings.schedules.deadline_watch,
        "access-sweep": settings.access.sweep_cron,
        "retention dry run": settings.schedules.retention_dry_run,
        "retention purge": settings.schedules.retention_purge,
    }
    bad = [name for name, cron in schedules.items() if cron is not None and not _valid_cron(cron)]
    if bad:
        return Check(
            "schedules", FAIL, f"not a 5-field cron expression: {', '.join(bad)}", "fix [schedules] (e.g. '0 7 * * *')"
        )
    shown = "; ".join(f"{name} '{cron}'" if cron else f"{name} off" for name, cron in schedules.items())
    return Check("schedules", OK, shown)


def run_doctor(config: Path | None, env: Mapping[str, str] | None = None) -> list[Check]:
    """Every check, in order; stops after the configuration when it is invalid."""
    environ: Mapping[str, str] = os.environ if env is None else env
    configured, settings = check_configuration(config)
    checks = [configured]
    if settings is None:
        return checks
    database, requests = check_database(settings)
    checks.append(database)
    checks += check_keys(settings, requests, environ)
    checks += [check_endpoint(endpoint, settings) for endpoint in settings.endpoints]
    checks += check_stores(settings)
    checks += [check_register(settings), check_prefect(settings, environ), check_schedules(settings)]
    return checks


def report(checks: list[Check]) -> dict[str, Any]:
    """The `dsr doctor --json` document."""
    return {"passed": all(c.passed for c in checks), "checks": [c.as_dict() for c in checks]}
