"""The credential of the Prefect server that `dsr server start` runs: where it comes from, and how a client sends it.

The server uses Prefect's basic authentication: every API call (and the UI, which asks for the credential once
per browser) must carry `Authorization: Basic base64(credential)`, the credential being one `user:password`
string. Prefect reads it from `PREFECT_SERVER_API_AUTH_STRING` on the server side and from
`PREFECT_API_AUTH_STRING` on the client side (the CLI, the serve process, workers, flows).

Where the credential comes from, in order:

1. The environment: `PREFECT_SERVER_API_AUTH_STRING` for the server, `PREFECT_API_AUTH_STRING` for a client
   (for example injected by the team's secret manager).
2. The credential file, `[prefect].auth_file` (default `.dsr/prefect-auth.key`, beside the other keys): one
   line `dsr:<random>`, created with mode 0600 by the first `dsr server start`; a file that group or others can
   read is refused, as every key file is (`models.files.check_private`).

Plain Python: no Prefect import, no network. The credential is never printed, logged or put in an error.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from models.errors import ConfigError
from models.files import atomic_write, check_private
from models.settings import Settings

AUTH_FILENAME = "prefect-auth.key"
SERVER_ENV = "PREFECT_SERVER_API_AUTH_STRING"
CLIENT_ENV = "PREFECT_API_AUTH_STRING"
USER = "dsr"
MAX_CHARS = 1024


def auth_file(settings: Settings) -> Path:
    """The credential file: `[prefect].auth_file`, else `<state dir>/prefect-auth.key`."""
    return settings.prefect.auth_file or settings.state_dir / AUTH_FILENAME


def new_credential(user: str = USER) -> str:
    """A fresh `user:password` credential (256 random bits)."""
    return f"{user}:{secrets.token_urlsafe(32)}"


def _valid(text: str, source: str) -> str:
    """The credential in `text` (one line, trailing newline allowed), or a ConfigError naming `source` only."""
    value = text.rstrip("\r\n")
    user, colon, password = value.partition(":")
    printable = all(0x21 <= ord(ch) <= 0x7E for ch in value)
    if not colon or not user or not password or not printable or len(value) > MAX_CHARS:
        raise ConfigError(
            f"{source} must hold one line `user:password` (printable ASCII, no spaces, at most {MAX_CHARS} "
            f"characters); delete the file and run `dsr server start` to create a new one",
            key="prefect.auth_file",
        )
    return value


def read_credential(path: Path) -> str:
    """The credential in `path`, which must be private.

    Raises:
        ConfigError: the file is readable by group or others, cannot be read, or is not one `user:password` line.
    """
    check_private(path, "server credential file", key="prefect.auth_file")
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        raise ConfigError(
            f"server credential file {path} cannot be read ({exc.strerror}); make it readable by this user",
            key="prefect.auth_file",
        ) from None
    return _valid(text, f"server credential file {path}")


def server_credential(settings: Settings, environ: Mapping[str, str] | None = None) -> str | None:
    """The credential the server requires: None when `[prefect].auth` is off; else `PREFECT_SERVER_API_AUTH_STRING`,
    else the credential file, created (mode 0600) when it does not exist yet.

    Raises:
        ConfigError: the value or file is not a valid credential, the file is not private, or cannot be created.
    """
    env = os.environ if environ is None else environ
    if not settings.prefect.auth:
        return None
    if env.get(SERVER_ENV):
        return _valid(env[SERVER_ENV], SERVER_ENV)
    path = auth_file(settings)
    if path.exists():
        return read_credential(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(FileExistsError):  # another start won the race: use its credential
            atomic_write(path, new_credential() + "\n", mode=0o600, exclusive=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the server credential file {path} ({exc.strerror or type(exc).__name__}); make "
            f"{path.parent} writable by this user, set [prefect].auth_file, or set {SERVER_ENV}",
            key="prefect.auth_file",
        ) from None
    return read_credential(path)


def client_credential(settings: Settings, environ: Mapping[str, str] | None = None) -> str | None:
    """The credential a client sends to the configured server: `PREFECT_API_AUTH_STRING`, else the credential
    file when it exists (never created here); None when neither is there or `[prefect].auth` is off."""
    env = os.environ if environ is None else environ
    if env.get(CLIENT_ENV):
        return env[CLIENT_ENV]
    if not settings.prefect.auth:
        return None
    path = auth_file(settings)
    return read_credential(path) if path.exists() else None


def basic_auth_header(credential: str | None) -> dict[str, str]:
    """The HTTP header that carries `credential` (none for None)."""
    if not credential:
        return {}
    return {"Authorization": "Basic " + base64.b64encode(credential.encode("utf-8")).decode("ascii")}


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or `localhost`) is reachable only from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_binding(settings: Settings) -> None:
    """Refuse to serve the UI and API beyond this machine without authentication.

    Raises:
        ConfigError: `[prefect].host` is not a loopback address and `[prefect].auth` is off.
    """
    prefect = settings.prefect
    if not prefect.auth and not is_loopback(prefect.host):
        raise ConfigError(
            f"[prefect].host {prefect.host} is reachable from other machines but [prefect].auth is off: anyone "
            "who reaches it could start, cancel or approve an erasure; set auth = true (and put an SSO reverse "
            'proxy in front, see the README) or host = "127.0.0.1"',
            key="prefect.host",
        )


# How a reviewer's decision was authenticated, as the audit trail records it beside the typed name.
AUTH_OS_LOGIN = "os_login"
"""A command on this machine: `authenticated_user` is the operating-system user the command runs as."""
AUTH_SHARED_CREDENTIAL = "server_shared_credential"
"""The UI of a server with authentication on: someone holding the server's one shared credential (or passed by
the team's reverse proxy, whose own log names the signed-in person); `authenticated_user` is the OS user the
server's flow runs as, not the person."""
AUTH_NONE = "server_without_authentication"
"""The UI of a server without authentication: anyone who reached it; `authenticated_user` as above."""


def server_side_authentication(environ: Mapping[str, str] | None = None) -> str:
    """How a decision submitted through the Prefect server was authenticated, as far as the flow can tell: it
    was given the server's credential (`PREFECT_API_AUTH_STRING`), so the server requires one; else unknown to
    be protected."""
    env = os.environ if environ is None else environ
    return AUTH_SHARED_CREDENTIAL if env.get(CLIENT_ENV) else AUTH_NONE
