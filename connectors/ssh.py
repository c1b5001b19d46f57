"""The `ssh://` connector: laptops over paramiko (strict host keys, key auth, SFTP, remote-side scanning).

Owns connection, SFTP listing/reading/changes, the remote scanner channel and the error-to-status mapping.
Decides nothing (no policy, no confirmation of matches) and never puts identifiers on a command line.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import io
import posixpath
import secrets
import stat
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, BinaryIO, NoReturn, TypeAlias
from urllib.parse import unquote, urlsplit

import paramiko
from paramiko import sftp as sftp_proto

from connectors import remote_scan
from connectors.agents import AGENTS, CLAUDE
from connectors.base import (
    TEMP_PREFIX,
    Activity,
    ConnectorBase,
    Expected,
    Item,
    RemoteHit,
    Skipped,
    check_temp_name,
    sha256_of,
)
from connectors.layouts import ACTIVITY_MARKER_GLOBS
from connectors.memory import normalize_path
from connectors.records import decode_json
from models.errors import (
    AccessDeniedError,
    AuthenticationError,
    BusyError,
    ConfigError,
    ConnectorError,
    DsrError,
    HostKeyMismatchError,
    HostKeyUnknownError,
    ItemNotFoundError,
    TransferError,
    UnreachableError,
    VersionConflictError,
)
from models.files import check_private

SIMULATED_BUSY_MARKER = ".dsr-simulated-busy"
# Fixed command strings: nothing from data (paths, identifiers) is ever put on a remote command line.
REMOTE_PYTHON_COMMAND = "python3 -"
REMOTE_PS_COMMAND = "ps -A -o pid= -o comm="
AGENT_PROCESS_NAMES = frozenset(CLAUDE.processes)
OTHER_AGENT_PROCESS_NAMES = frozenset(name for layout in AGENTS for name in layout.processes) - AGENT_PROCESS_NAMES
"""Processes of the other agents: reported as `app_process:<name>` evidence; they make only that agent's
files busy (the executor decides per action), not the whole laptop."""
_READ_REQUEST = 32768
_READ_WINDOW = 1 << 21
_READ_INFLIGHT = 64
_POLL_SECONDS = 0.005
_MAX_LINK_HOPS = 40
_MAX_RECORD_BYTES = 64 << 20  # one line of the remote scanner's output (hits carry lines up to 8 MiB, base64)
_KEEPALIVE_SECONDS = 10


RemoteInventoryEntry: TypeAlias = Item
"""Inventory records of a remote scan are the same `Item`s that `iter_items` yields."""


@dataclass(slots=True)
class _WalkState:
    root_real: str
    covered: list[str]


class _UnknownHostKeyError(paramiko.SSHException):
    """Raised by `_RejectUnknownPolicy` so an unknown host is told apart from other SSH failures."""


class _RejectUnknownPolicy(paramiko.RejectPolicy):
    """paramiko's RejectPolicy (never auto-add), raising a distinguishable exception."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> NoReturn:
        raise _UnknownHostKeyError(f"host {hostname} not in known_hosts")


def _mtime_of(attrs: paramiko.SFTPAttributes) -> int:
    return int(attrs.st_mtime or 0)


def _nlink_from_longname(longname: str | None) -> int | None:
    """OpenSSH's readdir long name is `ls -l` output: its second field is the link count."""
    if not longname:
        return None
    fields = longname.split(None, 2)
    if len(fields) >= 2 and fields[1].isdigit():
        return int(fields[1])
    return None


def _translate_io(exc: OSError, path: str) -> ConnectorError:
    """Map an SFTP-side OSError to the connector error family (message: path only)."""
    if isinstance(exc, FileNotFoundError) or exc.errno == errno.ENOENT:
        return ItemNotFoundError(f"not found: {path}", path=path)
    if isinstance(exc, PermissionError) or exc.errno == errno.EACCES:
        return AccessDeniedError(f"permission denied: {path}", path=path)
    return TransferError(f"sftp operation failed on {path}: {type(exc).__name__}", path=path)


class _SFTPReader(io.RawIOBase):
    """Streaming reader over an SFTP file with a bounded read-ahead window.

    paramiko's whole-file prefetch keeps every answered block in memory until it is consumed and is known
    to stall; here each window (`_READ_WINDOW` bytes as 32 KiB requests, at most `_READ_INFLIGHT` in flight)
    is requested only when the previous one was consumed, so memory stays bounded. Reads stop at the size
    the file had when it was opened (a consistent prefix of an appended transcript).
    """

    def __init__(self, handle: paramiko.SFTPFile, path: str, size: int) -> None:
        super().__init__()
        self._handle = handle
        self._path = path
        self._size = size
        self._pos = 0
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        window = min(self._size - self._pos, _READ_WINDOW)
        if window <= 0:
            return
        try:
            data = b"".join(self._handle.readv([(self._pos, window)], max_concurrent_prefetch_requests=_READ_INFLIGHT))
        except EOFError:
            data = b""  # the file shrank since it was opened: end here (compare-and-swap catches the change)
        except OSError as exc:
            raise _translate_io(exc, self._path) from exc
        except paramiko.SSHException as exc:
            raise TransferError(f"sftp read broke off: {self._path}", path=self._path) from exc
        if not data:
            self._size = self._pos
        self._pos += len(data)
        self._pending = memoryview(data)

    def readinto(self, buffer: Any) -> int:
        if not self._pending:
            self._fill()
        view = memoryview(buffer).cast("B")
        count = min(len(view), len(self._pending))
        view[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def close(self) -> None:
        if not self.closed:
            # Closing a handle of a dead channel: nothing left to release.
            with contextlib.suppress(OSError, paramiko.SSHException, EOFError):
                self._handle.close()
        super().close()


@dataclass(frozen=True, slots=True)
class SSHTarget:
    """What an `ssh://user@host:port/root` URL names."""

    user: str
    host: str
    port: int
    root: str

    @classmethod
    def parse(cls, url: str) -> SSHTarget:
        """Parse an ssh URL; the optional path is the real directory that stands for the laptop's `/`.

        Raises:
            ConfigError: not an ssh URL, or no user or host.
        """
        parts = urlsplit(url)
        if parts.scheme != "ssh" or not parts.hostname or not parts.username:
            raise ConfigError(f"not an ssh://user@host[:port][/root] URL: {parts.scheme}://{parts.hostname}")
        root = unquote(parts.path).rstrip("/")
        if root and not root.startswith("/"):
            raise ConfigError("ssh root must be an absolute path")
        return cls(user=unquote(parts.username), host=parts.hostname, port=parts.port or 22, root=root)


def check_key_file(key_file: Path) -> None:
    """Refuse a missing key file or one readable by group or others (as OpenSSH does).

    Raises:
        ConfigError: naming the path and the fix (`chmod 600`).
    """
    check_private(key_file, "ssh key file")


_ATTRIBUTES: Any = paramiko.SFTPAttributes


def _wire(path: str | bytes) -> bytes:
    """A path as the SFTP server's bytes: surrogate escapes (names that are not UTF-8) back to their bytes."""
    return path if isinstance(path, bytes) else path.encode("utf-8", "surrogateescape")


def _unwire(raw: bytes | str) -> str:
    """A path from the SFTP server as a `str` that round-trips its bytes (`surrogateescape`)."""
    return raw if isinstance(raw, str) else raw.decode("utf-8", "surrogateescape")


class _RawNameSFTPClient(paramiko.SFTPClient):
    """paramiko's SFTP client with file names handled as raw bytes both ways.

    paramiko encodes paths as strict UTF-8 and decodes `normalize`'s answer strictly, so a name that is not
    UTF-8 could be neither named nor resolved. Here every path goes out as its bytes (`_wire`) and comes
    back with surrogate escapes (`_unwire`): the same `str` the local connector holds for that name.
    """

    def _adjust_cwd(self, path: Any) -> bytes:
        adjust: Any = super()._adjust_cwd  # type: ignore[misc]
        return bytes(adjust(_wire(path)))

    def normalize(self, path: Any) -> str:
        client: Any = self
        kind, msg = client._request(sftp_proto.CMD_REALPATH, self._adjust_cwd(path))
        if kind != sftp_proto.CMD_NAME:
            raise paramiko.SFTPError("Expected name response")
        if msg.get_int() != 1:
            raise paramiko.SFTPError("Realpath returned more than one result")
        return _unwire(msg.get_string())

    def readlink(self, path: Any) -> str | None:
        client: Any = self
        kind, msg = client._request(sftp_proto.CMD_READLINK, self._adjust_cwd(path))
        if kind != sftp_proto.CMD_NAME:
            raise paramiko.SFTPError("Expected name response")
        count = msg.get_int()
        if count == 0:
            return None
        if count != 1:
            raise paramiko.SFTPError("Readlink returned more than one result")
        return _unwire(msg.get_string())


def _listdir_raw(sftp: paramiko.SFTPClient, path: str) -> list[paramiko.SFTPAttributes]:
    """`listdir_attr` that survives names that are not UTF-8.

    paramiko decodes names strictly, so one hostile name (`\\xff...`) fails the whole directory and hides
    every file in it. Here such names come back with surrogate escapes (`surrogateescape`): the same `str`
    a local listing gives, which `_wire` turns back into the exact bytes for every later SFTP call.
    """
    client: Any = sftp  # paramiko's request layer (no public raw-name listing exists)
    kind, msg = client._request(sftp_proto.CMD_OPENDIR, _wire(path))
    if kind != sftp_proto.CMD_HANDLE:
        raise paramiko.SFTPError("Expected handle")
    handle = msg.get_binary()
    entries: list[paramiko.SFTPAttributes] = []
    try:
        while True:
            try:
                kind, msg = client._request(sftp_proto.CMD_READDIR, handle)
            except EOFError:
                break
            if kind != sftp_proto.CMD_NAME:
                raise paramiko.SFTPError("Expected name response")
            for _ in range(msg.get_int()):
                filename = _unwire(msg.get_string())
                longname = msg.get_string().decode("utf-8", "replace")
                attrs = _ATTRIBUTES._from_msg(msg, filename, longname)
                if filename not in (".", ".."):
                    entries.append(attrs)
    finally:
        client._request(sftp_proto.CMD_CLOSE, handle)
    return entries


@dataclass
class _ScannerState:
    """What one run of the remote scanner has said so far."""

    greeted: bool = False
    ended: bool = False
    err_bytes: int = 0


class SSHConnector(ConnectorBase):
    """A laptop reached over SSH: SFTP for listing, reading and changes; `python3 -` for remote scanning.

    Paths are laptop paths (`/Users/ana/...`). When the URL carries a root (`ssh://u@h:p/srv/tree`), that
    directory stands for the laptop's `/`, as a `file://` endpoint's root does.

    The connection is opened on first use (or by `connect()`); every socket operation has a timeout, so a
    mute or blackholed laptop fails in seconds. Not thread-safe: one connector per task.
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        key_file: Path | None = None,
        known_hosts: Path,
        key_text: str | None = None,
        connect_timeout: float = 5,
        banner_timeout: float = 5,
        auth_timeout: float = 5,
        channel_timeout: float = 30,
        remote_python: bool = True,
        os_override: str | None = None,
    ) -> None:
        """Configure (without connecting).

        Args:
            name: endpoint name (`Item.location`).
            url: `ssh://user@host[:port][/root]`.
            key_file: private key file for public-key authentication (mode 600, checked).
            key_text: the private key itself (e.g. from a Prefect Secret block), instead of `key_file`.
            known_hosts: the only trusted host keys (OpenSSH format); unknown hosts are refused.
            connect_timeout: TCP connect timeout, seconds.
            banner_timeout: wait for the server's SSH banner, seconds.
            auth_timeout: wait for the authentication answer, seconds.
            channel_timeout: opening a channel and waiting for data on it, seconds.
            remote_python: False to never run `python3` on the laptop (scan via SFTP streaming).
            os_override: the endpoint's configured OS; None: each home's OS is recognised from the tree.
        """
        self.name = name
        self.url = url
        self.target = SSHTarget.parse(url)
        if (key_file is None) == (key_text is None):
            raise ConfigError(f"endpoint {name}: give exactly one of key_file and key_text")
        self.key_file = None if key_file is None else Path(key_file)
        self._key_text = key_text
        self.known_hosts = Path(known_hosts)
        self.connect_timeout = connect_timeout
        self.banner_timeout = banner_timeout
        self.auth_timeout = auth_timeout
        self.channel_timeout = channel_timeout
        self.remote_python = remote_python
        self.os_override = os_override
        self.last_scan_mode: str | None = None
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._root_real_cache: str | None = None

    # --- connection ----------------------------------------------------------------------------------------

    def connect(self) -> None:
        """Open the SSH connection (host key checked before authentication; nothing is read before both).

        Raises:
            ConfigError: bad key file.
            UnreachableError: closed port, no route, timeout, mute server.
            HostKeyUnknownError: host absent from known_hosts.
            HostKeyMismatchError: host presented a different key.
            AuthenticationError: the key was refused.
        """
        if self._client is not None:
            return
        pkey = self._load_key()
        client = paramiko.SSHClient()
        try:
            # HostKeys.load, not SSHClient.load_host_keys: the latter remembers the file to save into.
            client.get_host_keys().load(str(self.known_hosts))
        except OSError as exc:
            raise ConfigError(f"known_hosts file {self.known_hosts} cannot be read") from exc
        client.set_missing_host_key_policy(_RejectUnknownPolicy())
        where = f"{self.name} ({self.target.host}:{self.target.port})"
        try:
            client.connect(
                self.target.host,
                port=self.target.port,
                username=self.target.user,
                pkey=pkey,
                timeout=self.connect_timeout,
                banner_timeout=self.banner_timeout,
                auth_timeout=self.auth_timeout,
                channel_timeout=self.channel_timeout,
                allow_agent=False,
                look_for_keys=False,
            )
        except _UnknownHostKeyError as exc:
            client.close()
            raise HostKeyUnknownError(f"host key of {where} is not in {self.known_hosts}", endpoint=self.name) from exc
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise HostKeyMismatchError(
                f"host key of {where} differs from {self.known_hosts}: got {exc.key.fingerprint}",
                endpoint=self.name,
            ) from exc
        except paramiko.AuthenticationException as exc:
            client.close()
            raise AuthenticationError(
                f"{where} refused key {self.key_file or '(key_text)'}", endpoint=self.name
            ) from exc
        except (paramiko.SSHException, OSError, EOFError) as exc:
            # Closed port, no route, connect timeout, banner timeout (a listener that never speaks).
            client.close()
            raise UnreachableError(f"{where} unreachable: {type(exc).__name__}", endpoint=self.name) from exc
        transport = client.get_transport()
        if transport is not None:
            transport.set_keepalive(_KEEPALIVE_SECONDS)  # notice a laptop that fell asleep mid-scan
        self._client = client

    def check(self) -> None:
        """Connect, start SFTP and stat the endpoint's root: the connection test of this backend.

        Raises:
            the errors of `connect()`, plus `ItemNotFoundError` when the root is missing.
        """
        self.connect()
        self._lstat("/")

    def _load_key(self) -> paramiko.PKey:
        if self.key_file is not None:
            check_key_file(self.key_file)
            try:
                return paramiko.PKey.from_path(self.key_file)
            except (paramiko.SSHException, OSError, ValueError) as exc:
                raise ConfigError(f"ssh key file {self.key_file} is not a usable private key") from exc
        for key_class in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
            try:
                return key_class.from_private_key(io.StringIO(self._key_text or ""))
            except (paramiko.SSHException, ValueError):
                continue
        raise ConfigError(f"endpoint {self.name}: key_text is not a usable unencrypted private key")

    def _transport(self) -> paramiko.Transport:
        self.connect()
        assert self._client is not None  # noqa: S101 - connect() sets it or raises
        transport = self._client.get_transport()
        if transport is None or not transport.is_active():
            raise UnreachableError(f"{self.name}: connection lost")
        return transport

    def _sftp_client(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            transport = self._transport()
            try:
                sftp = _RawNameSFTPClient.from_transport(transport, window_size=None)
            except (paramiko.SSHException, OSError, EOFError) as exc:
                raise TransferError(f"{self.name}: sftp subsystem unavailable") from exc
            if sftp is None:
                raise TransferError(f"{self.name}: sftp subsystem unavailable")
            sftp.get_channel().settimeout(self.channel_timeout)  # type: ignore[union-attr]
            self._sftp = sftp
        return self._sftp

    def close(self) -> None:
        """Close SFTP and the SSH connection (idempotent)."""
        if self._sftp is not None:
            self._sftp.close()
            self._sftp = None
        if self._client is not None:
            self._client.close()
            self._client = None

    # --- paths ---------------------------------------------------------------------------------------------

    def _real(self, path: str) -> str:
        """Map a laptop path to the server's path; refuse relative paths and `..` components."""
        norm = normalize_path(path)
        if norm == "/":
            return self.target.root or "/"
        return self.target.root + norm

    def _root_real(self) -> str:
        if self._root_real_cache is None:
            try:
                self._root_real_cache = self._sftp_client().normalize(self.target.root or "/")
            except OSError as exc:
                raise _translate_io(exc, "/") from exc
        return self._root_real_cache

    def _check_parent(self, path: str) -> None:
        """Refuse a path whose parent directory resolves (through symlinks) outside the root."""
        norm = normalize_path(path)
        if norm == "/":
            return
        try:
            parent = self._sftp_client().normalize(posixpath.dirname(self._real(norm)))
        except FileNotFoundError:
            raise ItemNotFoundError(f"not found: {norm}", path=norm) from None
        except OSError as exc:
            raise AccessDeniedError(f"parent of {norm} cannot be resolved", path=norm) from exc
        if not remote_scan.is_under(parent, self._root_real()):
            raise AccessDeniedError(f"path resolves outside the endpoint root: {norm}", path=norm)

    def _item(self, path: str, attrs: paramiko.SFTPAttributes, nlink: int | None) -> Item:
        size = int(attrs.st_size or 0)
        mtime = _mtime_of(attrs)
        return Item(
            location=self.name,
            path=path,
            size=size,
            mtime=datetime.fromtimestamp(mtime, UTC),
            version=f"{size}:{mtime}",
            nlink=nlink,
        )

    def _lstat(self, path: str) -> paramiko.SFTPAttributes:
        sftp = self._sftp_client()
        self._check_parent(path)
        try:
            return sftp.lstat(self._real(path))
        except OSError as exc:
            raise _translate_io(exc, path) from exc
        except (TimeoutError, paramiko.SSHException, EOFError) as exc:
            raise TransferError(f"sftp stat broke off: {path}", path=path) from exc

    def _nlink(self, path: str) -> int | None:
        """Link count of a file, read from its directory's long listing (SFTP v3 attrs carry none)."""
        sftp = self._sftp_client()
        parent, base = posixpath.split(self._real(path))
        try:
            for attrs in _listdir_raw(sftp, parent or "/"):
                if attrs.filename == base:
                    return _nlink_from_longname(attrs.longname)
        except (OSError, paramiko.SSHException, EOFError):
            return None
        return None

    # --- listing -------------------------------------------------------------------------------------------

    def iter_items(self, prefix: str = "/") -> Iterator[Item | Skipped]:
        """Yield an `Item` per regular file under `prefix` and a `Skipped` per entry refused.

        Same rules as `LocalConnector` and the remote scanner: canonical paths; a symlink inside the root to
        a target outside the listed prefix is followed once and the target reported under its own path; a
        link whose target is already listed adds nothing; a link to an ancestor is `symlink_loop`; a link
        leading out of the root is `symlink_out_of_scope`; FIFOs, sockets and devices are `special_file`.
        Order as `LocalConnector`'s and the remote scanner's: a directory's files (names sorted) first, then
        its subdirectories in name order, depth first.
        """
        sftp = self._sftp_client()
        norm = normalize_path(prefix)
        real = self._real(norm)
        try:
            self._check_parent(norm)
        except ItemNotFoundError:
            return
        except AccessDeniedError:
            yield Skipped(self.name, norm, "symlink_out_of_scope")
            return
        try:
            attrs = sftp.lstat(real)
            root_real = self._root_real()
            # A prefix that is itself a symlink covers nothing yet (as locally): normalizing a loop would fail.
            covered = [] if stat.S_ISLNK(attrs.st_mode or 0) else [sftp.normalize(real)]
        except FileNotFoundError:
            return
        except PermissionError:
            yield Skipped(self.name, norm, "permission_denied")
            return
        except OSError as exc:
            raise _translate_io(exc, norm) from exc
        state = _WalkState(root_real, covered)
        stack: list[tuple[str, str]] = []
        mode = attrs.st_mode or 0
        if stat.S_ISDIR(mode):
            stack.append((norm, real))
        elif stat.S_ISREG(mode):
            yield self._item(norm, attrs, self._nlink(norm))
        elif stat.S_ISLNK(mode):
            yield from self._follow(norm, real, state, stack)
        else:
            yield Skipped(self.name, norm, "special_file")
        while stack:
            path, directory = stack.pop()
            subdirs: list[tuple[str, str]] = []
            yield from self._directory(path, directory, state, subdirs)
            stack.extend(reversed(subdirs))

    def _directory(
        self, path: str, real: str, state: _WalkState, subdirs: list[tuple[str, str]]
    ) -> Iterator[Item | Skipped]:
        """One directory's files, links and special entries; its subdirectories go to `subdirs` (walked later)."""
        try:
            entries = _listdir_raw(self._sftp_client(), real)
        except FileNotFoundError:
            yield Skipped(self.name, path, "vanished")
            return
        except PermissionError:
            yield Skipped(self.name, path, "permission_denied")
            return
        except OSError as exc:
            raise _translate_io(exc, path) from exc
        entries.sort(key=lambda a: _wire(a.filename))
        for child in entries:
            child_path = path.rstrip("/") + "/" + child.filename
            child_real = real.rstrip("/") + "/" + child.filename
            mode = child.st_mode or 0
            if stat.S_ISDIR(mode):
                subdirs.append((child_path, child_real))
            elif stat.S_ISREG(mode):
                yield self._item(child_path, child, _nlink_from_longname(child.longname))
            elif stat.S_ISLNK(mode):
                yield from self._follow(child_path, child_real, state, subdirs)
            else:
                yield Skipped(self.name, child_path, "special_file")

    def list_names(self, path: str) -> list[str]:
        """Sorted entry names of the directory `path` (the `NameLister` capability used by discovery).

        Returns [] when the path does not exist or is not a directory. A directory reached through a
        symlink is listed only if it resolves inside the root.

        Raises:
            AccessDeniedError: the directory may not be read or resolves outside the root.
        """
        norm = normalize_path(path)
        sftp = self._sftp_client()
        try:
            self._check_parent(norm)
        except ItemNotFoundError:
            return []
        real = self._real(norm)
        try:
            resolved = sftp.normalize(real)
            attrs = sftp.stat(real)
        except FileNotFoundError:
            if self._is_link(real):
                # A dangling link or a loop: listing the path itself reports it (`symlink_loop`, `vanished`).
                raise AccessDeniedError(f"symlink cannot be followed: {norm}", path=norm) from None
            return []
        except PermissionError as exc:
            raise AccessDeniedError(f"permission denied: {norm}", path=norm) from exc
        except OSError as exc:
            if self._is_link(real):
                raise AccessDeniedError(f"symlink cannot be followed: {norm}", path=norm) from exc
            raise _translate_io(exc, norm) from exc
        if not remote_scan.is_under(resolved, self._root_real()):
            raise AccessDeniedError(f"path resolves outside the endpoint root: {norm}", path=norm)
        if not stat.S_ISDIR(attrs.st_mode or 0):
            return []
        try:
            names = [a.filename for a in _listdir_raw(sftp, real)]
        except FileNotFoundError:
            return []
        except PermissionError as exc:
            raise AccessDeniedError(f"permission denied: {norm}", path=norm) from exc
        except OSError as exc:
            raise _translate_io(exc, norm) from exc
        return sorted(names)

    def _is_link(self, real: str) -> bool:
        """Whether the server path is itself a symlink (lstat; False if it cannot be stated)."""
        try:
            return stat.S_ISLNK(self._sftp_client().lstat(real).st_mode or 0)
        except OSError:
            return False

    def _broken_link_reason(self, link: str) -> str:
        """`symlink_loop` if following `link` comes back to a link already seen (or never ends), else `vanished`."""
        sftp = self._sftp_client()
        seen: set[str] = set()
        current = link
        for _hop in range(_MAX_LINK_HOPS):
            if current in seen:
                return "symlink_loop"
            seen.add(current)
            try:
                if not stat.S_ISLNK(sftp.lstat(current).st_mode or 0):
                    return "vanished"
                target = sftp.readlink(current) or ""
            except OSError:
                return "vanished"
            current = posixpath.normpath(posixpath.join(posixpath.dirname(current), target))
        return "symlink_loop"

    def _follow(
        self, path: str, link: str, state: _WalkState, subdirs: list[tuple[str, str]]
    ) -> Iterator[Item | Skipped]:
        """Follow one symlink at most once, never out of the root (server-side realpath, no local guess)."""
        sftp = self._sftp_client()
        try:
            raw_target = sftp.readlink(link) or ""
        except OSError:
            yield Skipped(self.name, path, "vanished")
            return
        try:
            real = sftp.normalize(link)
        except OSError:
            # OpenSSH reports ELOOP as "no such file": walk the chain to tell a loop from a dangling link.
            yield Skipped(self.name, path, self._broken_link_reason(link), raw_target)
            return
        if not remote_scan.is_under(real, state.root_real):
            yield Skipped(self.name, path, "symlink_out_of_scope", raw_target)
            return
        try:
            target_attrs = sftp.stat(link)
        except OSError:
            yield Skipped(self.name, path, self._broken_link_reason(link), raw_target)
            return
        rel = real[len(state.root_real) :] if state.root_real != "/" else real
        target = rel if rel.startswith("/") else "/" + rel
        covered = any(remote_scan.is_under(real, base) for base in state.covered)
        mode = target_attrs.st_mode or 0
        if stat.S_ISREG(mode):
            if not covered:
                yield self._item(target, sftp.lstat(real), self._nlink(target))
        elif stat.S_ISDIR(mode):
            parent = sftp.normalize(posixpath.dirname(link))
            if remote_scan.is_under(parent, real):
                yield Skipped(self.name, path, "symlink_loop", target)
            elif not covered:
                state.covered.append(real)
                subdirs.append((target, real))
        else:
            yield Skipped(self.name, path, "special_file", target)

    def stat(self, path: str) -> Item:
        """The current `Item` for `path` (never following a final symlink).

        Raises:
            ItemNotFoundError: nothing there.
            AccessDeniedError: a symlink, not a regular file, or out of scope.
        """
        attrs = self._lstat(path)
        if not stat.S_ISREG(attrs.st_mode or 0):
            raise AccessDeniedError(f"not a regular file: {path}", path=path)
        return self._item(normalize_path(path), attrs, self._nlink(path))

    def verify(self, item: Item) -> Item | None:
        """Re-stat the item on the laptop: its current `Item`, or None if it is gone."""
        try:
            return self.stat(item.path)
        except ItemNotFoundError:
            return None

    def open(self, item: Item) -> BinaryIO:
        """Stream the item's bytes up to its size at open (windowed SFTP reads; final symlinks refused).

        Raises:
            ItemNotFoundError, AccessDeniedError, TransferError.
        """
        attrs = self._lstat(item.path)
        if not stat.S_ISREG(attrs.st_mode or 0):
            raise AccessDeniedError(f"not a regular file: {item.path}", path=item.path)
        sftp = self._sftp_client()
        try:
            handle = sftp.open(self._real(item.path), "rb")
            size = int(handle.stat().st_size or 0)
        except OSError as exc:
            raise _translate_io(exc, item.path) from exc
        return io.BufferedReader(_SFTPReader(handle, item.path, size), buffer_size=_READ_REQUEST)

    def _hash(self, path: str) -> str:
        attrs = self._lstat(path)
        probe = self._item(path, attrs, None)
        with self.open(probe) as stream:
            return sha256_of(iter(lambda: stream.read(1 << 20), b""))

    # --- changes -------------------------------------------------------------------------------------------

    def _check_expected(self, path: str, expected: Expected) -> paramiko.SFTPAttributes:
        attrs = self._lstat(path)
        if not stat.S_ISREG(attrs.st_mode or 0):
            raise AccessDeniedError(f"not a regular file: {path}", path=path)
        size = int(attrs.st_size or 0)
        version = f"{size}:{_mtime_of(attrs)}"
        if size != expected.size or version != expected.version:
            raise VersionConflictError(f"{path} changed since it was read", path=path)
        return attrs

    def _ensure_idle(self) -> None:
        activity = self.activity()
        if activity.agent_running:
            raise BusyError(f"{self.name}: agent app running ({', '.join(activity.evidence)})")

    def replace(self, item: Item, chunks: Iterable[bytes], expected: Expected, *, temp_name: str | None = None) -> Item:
        """Atomically replace the file: temp file in the same directory (exactly `temp_name` when given,
        created exclusively; an existing entry of that name is a conflict), then `posix_rename`.

        Mode (and owner, where permitted) and mtime are set on the temp file before the rename; the mtime is
        max(now, old + 1 s) so the whole-second version token always changes. The rename replaces the
        directory entry only, so other hard-link names keep the old content. Compare-and-swap: size and
        version, and the sha256 when `expected.sha256` is given, are re-checked just before the rename; a
        writer inside that window (one round trip) is not detected.

        Raises:
            BusyError, VersionConflictError, ItemNotFoundError, AccessDeniedError, TransferError.
        """
        self._ensure_idle()
        path = normalize_path(item.path)
        old = self._check_expected(path, expected)
        sftp = self._sftp_client()
        real = self._real(path)
        directory = posixpath.dirname(real)
        name = check_temp_name(temp_name) if temp_name is not None else f"{TEMP_PREFIX}{secrets.token_hex(8)}"
        temp = posixpath.join(directory, name)
        if temp_name is not None:  # a derived name may be a leftover cleanup could not remove: never reuse it
            try:
                sftp.lstat(temp)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise _translate_io(exc, path) from exc
            else:
                raise VersionConflictError(f"{path}: a temporary file of that name is in the way", path=path)
        created = False
        try:
            handle = sftp.open(temp, "wbx")
            created = True
            with handle:
                handle.set_pipelined(True)
                for chunk in chunks:
                    handle.write(chunk)
            sftp.chmod(temp, stat.S_IMODE(old.st_mode or 0o600))
            if old.st_uid is not None and old.st_gid is not None:
                # A non-root login cannot give files away; the temp file then keeps our owner.
                with contextlib.suppress(PermissionError):
                    sftp.chown(temp, old.st_uid, old.st_gid)
            new_mtime = max(int(time.time()), _mtime_of(old) + 1)
            sftp.utime(temp, (new_mtime, new_mtime))
            if expected.sha256 is not None and self._hash(path) != expected.sha256:
                raise VersionConflictError(f"{path} content changed since it was read", path=path)
            self._check_expected(path, expected)
            sftp.posix_rename(temp, real)
        except BaseException as exc:
            if created:
                self._remove_quietly(temp)
            if isinstance(exc, DsrError):
                raise
            if isinstance(exc, OSError):
                raise _translate_io(exc, path) from exc
            if isinstance(exc, paramiko.SSHException | EOFError):
                raise TransferError(f"sftp write broke off: {path}", path=path) from exc
            raise
        return self.stat(path)

    def _remove_quietly(self, real: str) -> None:
        if self._sftp is None:
            return
        # Already gone, or the channel died: nothing more can be done from here.
        with contextlib.suppress(OSError, paramiko.SSHException, EOFError):
            self._sftp.remove(real)

    def delete(self, item: Item, expected: Expected | None = None) -> bool:
        """Remove the file (the entry only: a symlink is never followed) if it still matches.

        Returns:
            False when it was already gone.

        Raises:
            BusyError, VersionConflictError, AccessDeniedError, TransferError.
        """
        self._ensure_idle()
        path = normalize_path(item.path)
        want = expected or Expected(size=item.size, version=item.version)
        try:
            self._check_expected(path, want)
            if want.sha256 is not None and self._hash(path) != want.sha256:
                raise VersionConflictError(f"{path} content changed since it was read", path=path)
            self._sftp_client().remove(self._real(path))
        except ItemNotFoundError:
            return False
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise _translate_io(exc, path) from exc
        return True

    def delete_tree(self, path: str) -> int:
        """Remove a directory tree without following symlinks (links are removed as entries).

        Returns:
            The number of non-directory entries removed; 0 if the tree was already gone.

        Raises:
            BusyError, AccessDeniedError (the path itself is a symlink or not a directory), TransferError.
        """
        self._ensure_idle()
        norm = normalize_path(path)
        if norm == "/":
            raise AccessDeniedError("refusing to delete the endpoint root", path=path)
        try:
            attrs = self._lstat(norm)
        except ItemNotFoundError:
            return 0
        if not stat.S_ISDIR(attrs.st_mode or 0):
            raise AccessDeniedError(f"not a directory: {norm}", path=norm)
        try:
            return self._remove_tree(self._real(norm))
        except OSError as exc:
            raise _translate_io(exc, norm) from exc

    def _remove_tree(self, real: str) -> int:
        sftp = self._sftp_client()
        removed = 0
        for attrs in _listdir_raw(sftp, real):
            child = posixpath.join(real, attrs.filename)
            if stat.S_ISDIR(attrs.st_mode or 0):
                removed += self._remove_tree(child)
            else:
                sftp.remove(child)
                removed += 1
        sftp.rmdir(real)
        return removed

    # --- activity ------------------------------------------------------------------------------------------

    def _run(self, command: str) -> tuple[int, bytes]:
        """Run one FIXED command string, draining stdout and stderr together; returns (status, stdout)."""
        channel = self._open_exec(command)
        out = bytearray()
        try:
            for kind, data in self._drain(channel):
                if kind == "out":
                    out += data
            return channel.recv_exit_status(), bytes(out)
        finally:
            channel.close()

    def activity(self) -> Activity:
        """Whether the agent app is running (changes must then wait).

        Evidence: the `/.dsr-simulated-busy` marker (simulated laptops); a `~/.claude/sessions/<pid>.json`
        (globs from `connectors.layouts.ACTIVITY_MARKER_GLOBS`) whose pid is alive in `ps`; on an unrooted
        endpoint also a Desktop/CLI process name in `ps`. Rooted endpoints (a tree standing for a laptop)
        skip the name check: the server's own processes are not the laptop's. If `ps` cannot run while
        session files exist, the endpoint counts as busy (unverifiable is not idle).
        """
        evidence: list[str] = []
        try:
            self._lstat(f"/{SIMULATED_BUSY_MARKER}")
            evidence.append("simulated_busy_marker")
        except ItemNotFoundError:
            pass
        session_pids = [
            int(stem)
            for stem in (posixpath.basename(p).removesuffix(".json") for p in self._session_files())
            if stem.isdigit()
        ]
        processes = self._processes()
        others: tuple[str, ...] = ()
        if processes is None:
            evidence.extend(f"session_unverified:{pid}" for pid in session_pids)
        else:
            pids, names = processes
            evidence.extend(f"session_pid:{pid}" for pid in session_pids if pid in pids)
            if not self.target.root:
                evidence.extend(f"process:{name}" for name in sorted(names & AGENT_PROCESS_NAMES))
                others = tuple(f"app_process:{name}" for name in sorted(names & OTHER_AGENT_PROCESS_NAMES))
        return Activity(agent_running=bool(evidence), evidence=(*evidence, *others))

    def _processes(self) -> tuple[set[int], set[str]] | None:
        """Pids and process base names from the fixed `ps` command; None if it cannot run."""
        try:
            status, out = self._run(REMOTE_PS_COMMAND)
        except TransferError:
            return None
        if status != 0:
            return None
        pids: set[int] = set()
        names: set[str] = set()
        for raw in out.decode("utf-8", "replace").splitlines():
            fields = raw.strip().split(None, 1)
            if len(fields) == 2 and fields[0].isdigit():
                pids.add(int(fields[0]))
                names.add(posixpath.basename(fields[1].strip()))
        return pids, names

    def _session_files(self) -> list[str]:
        """Laptop paths matching the session-marker globs (expanded one segment at a time over SFTP)."""
        sftp = self._sftp_client()
        found: list[str] = []
        for pattern in ACTIVITY_MARKER_GLOBS:
            current = ["/"]
            for segment in pattern.split("/"):
                following: list[str] = []
                for directory in current:
                    if not any(ch in segment for ch in "*?["):
                        following.append(posixpath.join(directory, segment))
                        continue
                    try:
                        names = [a.filename for a in _listdir_raw(sftp, self._real(directory))]
                    except (OSError, AccessDeniedError, paramiko.SSHException):
                        continue
                    following.extend(posixpath.join(directory, n) for n in sorted(names) if fnmatch(n, segment))
                current = following
            for path in current:
                try:
                    if stat.S_ISREG(self._lstat(path).st_mode or 0):
                        found.append(path)
                except (ItemNotFoundError, AccessDeniedError):
                    continue
        return found

    # --- remote scanning -----------------------------------------------------------------------------------

    def _open_exec(self, command: str) -> paramiko.Channel:
        transport = self._transport()
        try:
            channel = transport.open_session(timeout=self.channel_timeout)
            channel.settimeout(self.channel_timeout)
            channel.set_combine_stderr(False)
            channel.exec_command(command)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise TransferError(f"{self.name}: cannot open an exec channel") from exc
        return channel

    def _drain(self, channel: paramiko.Channel) -> Iterator[tuple[str, bytes]]:
        """Yield ("out"|"err", data) until the channel closes; both streams are read together.

        Raises:
            TransferError: no data and no exit for `channel_timeout` seconds.
        """
        last = time.monotonic()
        while True:
            progressed = False
            if channel.recv_ready():
                data = channel.recv(1 << 16)
                progressed = True
                if data:
                    yield "out", data
            if channel.recv_stderr_ready():
                err = channel.recv_stderr(1 << 16)
                progressed = True
                if err:
                    yield "err", err
            if not progressed:
                if channel.closed or channel.eof_received:
                    # EOF covers both streams and arrives after their data: re-check once it is seen.
                    if not channel.recv_ready() and not channel.recv_stderr_ready():
                        return
                    continue
                if time.monotonic() - last > self.channel_timeout:
                    raise TransferError(f"{self.name}: remote command silent for {self.channel_timeout}s")
                time.sleep(_POLL_SECONDS)
            else:
                last = time.monotonic()

    def scan_remote(
        self, prefix: str | Sequence[str] = "/", literals: Sequence[bytes] = ()
    ) -> Iterator[Item | Skipped | RemoteHit]:
        """Walk `prefix` (or several) and yield inventory and candidate lines, on the laptop when it has python3.

        The scanner (`connectors.remote_scan`, stdlib only) and the literals travel on the channel's stdin of
        the fixed command `python3 -`; nothing lands on a command line or in a file on the laptop. Without
        python3 (or with `remote_python=False`, or when the laptop's python3 cannot run the scanner) each
        file is streamed over SFTP and the same candidate rule runs here. Both give the same records in the
        same order: for each file its `Item`, then its `RemoteHit`s; `Skipped` for entries not followed or
        opened. `last_scan_mode` says which ran ("remote" or "sftp").

        Args:
            prefix: laptop path to walk, or a sequence of them (each listed as by one `iter_items` call).
            literals: the detection Matcher's `literals` (a line is a candidate iff
                `any(lit in line.lower() for lit in literals)`). Lines are sent whole, however long.

        Raises:
            UnreachableError, TransferError, AccessDeniedError (a prefix with `..` or not absolute).
        """
        prefixes = [normalize_path(p) for p in ([prefix] if isinstance(prefix, str) else prefix)]
        if self.remote_python:
            records = self._scan_with_python(prefixes, literals)
            first = next(records, None)
            if first is not None:
                self.last_scan_mode = "remote"
                yield first
                yield from records
                return
        self.last_scan_mode = "sftp"
        for one in prefixes:
            yield from self._scan_with_sftp(one, literals)

    def scanner_runs(self) -> bool:
        """Whether the laptop's `python3` runs the remote scanner: it is sent as for a scan, over a path that
        does not exist (no file is read, no literal is sent), and must greet and end cleanly."""
        program = _scanner_program(self.target.root, ["/.dsr-scanner-probe"], (), 1.0)
        channel = self._open_exec(REMOTE_PYTHON_COMMAND)
        tags: set[object] = set()
        try:
            channel.sendall(program)
            channel.shutdown_write()
            output = b"".join(data for kind, data in self._drain(channel) if kind == "out")
            status = channel.recv_exit_status()
        except (OSError, paramiko.SSHException, EOFError, TransferError):
            return False
        finally:
            channel.close()
        for raw in output.splitlines()[:100]:
            record = self._parse_record(raw, greeted=False)
            if record is not None:
                tags.add(record.get("t"))
        return status == 0 and {remote_scan.RECORD_HELLO, remote_scan.RECORD_END} <= tags

    def _scan_with_sftp(self, prefix: str, literals: Sequence[bytes]) -> Iterator[Item | Skipped | RemoteHit]:
        for entry in self.iter_items(prefix):
            yield entry
            if isinstance(entry, Skipped):
                continue
            try:
                stream = self.open(entry)
            except ItemNotFoundError:
                yield Skipped(self.name, entry.path, "vanished")
                continue
            except AccessDeniedError:
                yield Skipped(self.name, entry.path, "permission_denied")
                continue
            with stream:
                for line, offset, data in remote_scan.iter_candidate_lines(
                    remote_scan.utf8_reader(stream.read), literals
                ):
                    yield RemoteHit(self.name, entry.path, line, offset, data)

    def _scan_with_python(
        self, prefixes: Sequence[str], literals: Sequence[bytes]
    ) -> Iterator[Item | Skipped | RemoteHit]:
        """Run the scanner on the laptop; yields nothing at all if python3 is missing or cannot start it."""
        # Heartbeats well inside channel_timeout, so a slow but healthy scan is never taken for a stall.
        heartbeat = max(0.2, min(remote_scan.HEARTBEAT_SECONDS, self.channel_timeout / 3))
        program = _scanner_program(self.target.root, prefixes, literals, heartbeat)
        channel = self._open_exec(REMOTE_PYTHON_COMMAND)
        try:
            try:
                channel.sendall(program)
                channel.shutdown_write()
            except (OSError, paramiko.SSHException, EOFError) as exc:
                raise TransferError(f"{self.name}: sending the scanner failed") from exc
            state = _ScannerState()
            yield from self._scanner_records(channel, state)
            status = channel.recv_exit_status()
            if not state.greeted:
                # No python3 (exit 127), or one too old for the scanner: the caller falls back to SFTP.
                return
            if not state.ended or status != 0:
                raise TransferError(
                    f"{self.name}: remote scanner failed (exit {status}, {state.err_bytes} bytes on stderr)"
                )
        finally:
            channel.close()

    def _scanner_records(self, channel: paramiko.Channel, state: _ScannerState) -> Iterator[Item | Skipped | RemoteHit]:
        """The entries the remote scanner sends, line by line, as they arrive."""
        pending = bytearray()
        for kind, data in self._drain(channel):
            if kind == "err":
                state.err_bytes += len(data)  # never logged: it could echo file content
                continue
            pending += data
            while (cut := pending.find(b"\n")) >= 0:
                raw = bytes(pending[:cut])
                del pending[: cut + 1]
                entry = self._scanner_line(raw, state)
                if entry is not None:
                    yield entry
            if len(pending) > _MAX_RECORD_BYTES:
                raise TransferError(f"{self.name}: remote scanner sent a record over {_MAX_RECORD_BYTES} bytes")

    def _scanner_line(self, raw: bytes, state: _ScannerState) -> Item | Skipped | RemoteHit | None:
        """One line of the remote scanner: an entry, or None for the greeting, the end, heartbeats and banners."""
        record = self._parse_record(raw, greeted=state.greeted)
        if record is None:
            return None  # output before the scanner's greeting (a login banner)
        tag = record.get("t")
        if tag == remote_scan.RECORD_HELLO:
            state.greeted = True
        elif tag == remote_scan.RECORD_END:
            state.ended = True
        elif tag != remote_scan.RECORD_HEARTBEAT:
            try:
                return self._record(record)
            except (KeyError, ValueError, TypeError, OverflowError, OSError) as exc:
                raise TransferError(f"{self.name}: remote scanner sent a malformed record") from exc
        return None

    def _parse_record(self, raw: bytes, *, greeted: bool) -> dict[str, Any] | None:
        """One output line of the remote scanner, parsed as untrusted (the laptop controls `python3`).

        Returns None for unparsable lines before the greeting (login banners on stdout).

        Raises:
            TransferError: an unparsable or non-object line after the greeting.
        """
        try:
            record = decode_json(raw)
        except ValueError:
            record = None
        if isinstance(record, dict):
            return record
        if not greeted:
            return None
        raise TransferError(f"{self.name}: remote scanner sent an unreadable record")

    def _record(self, record: dict[str, Any]) -> Item | Skipped | RemoteHit:
        tag = record["t"]
        path = str(record["p"])
        if tag == remote_scan.RECORD_ITEM:
            size = int(record["s"])
            mtime = int(record["m"])
            return Item(
                location=self.name,
                path=path,
                size=size,
                mtime=datetime.fromtimestamp(mtime, UTC),
                version=f"{size}:{mtime}",
                nlink=int(record["n"]),
            )
        if tag == remote_scan.RECORD_HIT:
            return RemoteHit(self.name, path, int(record["l"]), int(record["o"]), base64.b64decode(record["d"]))
        if tag == remote_scan.RECORD_SKIPPED:
            target = record.get("g")
            return Skipped(self.name, path, str(record["r"]), None if target is None else str(target))
        raise TransferError(f"{self.name}: unknown scanner record type")


def _scanner_program(root: str, prefixes: Sequence[str], literals: Sequence[bytes], heartbeat: float) -> bytes:
    """The program sent to `python3 -`: the scanner's own source plus one call with the hex payload."""
    source = Path(remote_scan.__file__).read_text(encoding="utf-8")
    payload = remote_scan.encode_payload(root, prefixes, literals, heartbeat=heartbeat)
    return (source + f"\n\nraise SystemExit(remote_main({payload!r}))\n").encode("utf-8")
