"""Local `file://` connector: a directory tree stands for one laptop's `/`.

Owns safe listing, reading and atomic compare-and-swap writes on a local disk. Never follows a symlink out
of the root, never opens special files, never writes through a hard link. Decides nothing (no policy).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import stat as stat_mod
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from connectors.base import (
    CHUNK_SIZE,
    TEMP_PREFIX,
    Activity,
    ConnectorBase,
    Expected,
    Item,
    Skipped,
    check_temp_name,
)
from connectors.layouts import ACTIVITY_MARKER_GLOBS
from connectors.memory import normalize_path
from models.errors import (
    AccessDeniedError,
    ItemNotFoundError,
    TransferError,
    UnreachableError,
    VersionConflictError,
)

SIMULATED_BUSY_MARKER = ".dsr-simulated-busy"
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def is_pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (signal 0 probes without signalling)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True


class _SizeBoundReader(io.RawIOBase):
    """A local file read no further than the size it had when opened (seekable, like the plain file)."""

    def __init__(self, fd: int, size: int) -> None:
        super().__init__()
        self._file = os.fdopen(fd, "rb", buffering=0)
        self._size = size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self._size - self._file.tell()
        if remaining <= 0:
            return 0
        view = memoryview(buffer).cast("B")
        return self._file.readinto(view[: min(len(view), remaining)]) or 0

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def fileno(self) -> int:
        return self._file.fileno()

    def close(self) -> None:
        if not self.closed:
            self._file.close()
        super().close()


def _version(st: os.stat_result) -> str:
    return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


def _os_error_reason(exc: OSError) -> str:
    """The `Skipped` reason of an unexpected OS error while listing (a hostile tree must not end the walk)."""
    if exc.errno == errno.ENAMETOOLONG:
        return "path_too_long"
    if exc.errno == errno.ELOOP:
        return "symlink_loop"
    return "unreadable"


def _is_under(path: str, base: str) -> bool:
    return path == base or path.startswith(base.rstrip(os.sep) + os.sep)


class LocalConnector(ConnectorBase):
    """A laptop reached as a local directory (`file:///srv/laptops/ana`): root = the laptop's `/`.

    Listing yields canonical paths: a symlink inside the root to a file or directory outside the listed
    prefix is followed once and its target is reported under the target's own path; a symlink whose target
    is already listed under its own path adds nothing; a symlink to an ancestor is a `symlink_loop`; a
    symlink leading out of the root is `symlink_out_of_scope`. So every `Item.path` names a real file that
    `stat`, `open` and `replace` accept.

    Args:
        name: endpoint name used as `Item.location`.
        root: the directory that stands for the laptop's `/`.
    """

    def __init__(self, name: str, root: Path | str, *, os_override: str | None = None) -> None:
        self.name = name
        self.root = os.path.realpath(root)
        self.os_override = os_override  # the endpoint's configured OS; None: recognised from the tree

    # -- paths -------------------------------------------------------------------------------------------

    def _require_root(self) -> None:
        if not os.path.isdir(self.root):
            raise UnreachableError("endpoint root is not a directory", endpoint=self.name, path=self.root)

    def _fs_path(self, path: str) -> str:
        norm = normalize_path(path)
        return self.root if norm == "/" else os.path.join(self.root, *norm[1:].split("/"))

    def _laptop_path(self, fs_path: str) -> str:
        rel = os.path.relpath(fs_path, self.root)
        return "/" if rel == "." else "/" + rel.replace(os.sep, "/")

    def _checked(self, path: str) -> str:
        """Filesystem path for `path` with its parent resolved; refuse parents that leave the root."""
        self._require_root()
        fs_path = self._fs_path(path)
        if fs_path == self.root:
            return fs_path
        parent = os.path.realpath(os.path.dirname(fs_path))
        if not _is_under(parent, self.root):
            raise AccessDeniedError("path resolves outside the endpoint root", path=normalize_path(path))
        return os.path.join(parent, os.path.basename(fs_path))

    def _item(self, path: str, st: os.stat_result) -> Item:
        return Item(
            location=self.name,
            path=path,
            size=st.st_size,
            mtime=datetime.fromtimestamp(st.st_mtime_ns / 1e9, tz=UTC),
            version=_version(st),
            nlink=st.st_nlink,
        )

    def _lstat_regular(self, fs_path: str, path: str) -> os.stat_result:
        try:
            st = os.lstat(fs_path)
        except FileNotFoundError:
            raise ItemNotFoundError("no such item", path=path) from None
        except PermissionError as exc:
            raise AccessDeniedError("permission denied", path=path) from exc
        except OSError as exc:
            raise TransferError(f"stat failed ({_os_error_reason(exc)})", path=path) from exc
        if stat_mod.S_ISLNK(st.st_mode):
            raise AccessDeniedError("path is a symlink", path=path)
        if not stat_mod.S_ISREG(st.st_mode):
            raise AccessDeniedError("not a regular file", path=path)
        return st

    # -- listing -------------------------------------------------------------------------------------------

    def iter_items(self, prefix: str = "/") -> Iterator[Item | Skipped]:
        """Yield an `Item` per regular file under `prefix` and a `Skipped` per entry refused (see class doc)."""
        self._require_root()
        lp = normalize_path(prefix)
        fs_path = self._fs_path(lp)
        if fs_path != self.root and not _is_under(os.path.realpath(os.path.dirname(fs_path)), self.root):
            yield Skipped(self.name, lp, "symlink_out_of_scope")
            return
        try:
            st = os.lstat(fs_path)
        except FileNotFoundError:
            return
        except PermissionError:
            yield Skipped(self.name, lp, "permission_denied")
            return
        except OSError as exc:
            yield Skipped(self.name, lp, _os_error_reason(exc))
            return
        # A prefix that is itself a symlink is followed like any other link (it covers nothing yet).
        covered = [] if stat_mod.S_ISLNK(st.st_mode) else [os.path.realpath(fs_path)]
        stack: list[str] = []
        if stat_mod.S_ISDIR(st.st_mode):
            stack.append(fs_path)
        elif stat_mod.S_ISREG(st.st_mode):
            yield self._item(lp, st)
        elif stat_mod.S_ISLNK(st.st_mode):
            yield from self._follow_link(fs_path, lp, covered, stack)
        else:
            yield Skipped(self.name, lp, "special_file")
        yield from self._walk(stack, covered)

    def _walk(self, stack: list[str], covered: list[str]) -> Iterator[Item | Skipped]:
        visited: set[tuple[int, int]] = set()
        while stack:
            directory = stack.pop()
            dir_lp = self._laptop_path(directory)
            try:
                dst = os.stat(directory)
                key = (dst.st_dev, dst.st_ino)
                if key in visited:
                    continue
                visited.add(key)
                with os.scandir(directory) as scan:
                    entries = sorted(scan, key=lambda entry: entry.name)
            except FileNotFoundError:
                yield Skipped(self.name, dir_lp, "vanished")
                continue
            except PermissionError:
                yield Skipped(self.name, dir_lp, "permission_denied")
                continue
            except OSError as exc:  # a hostile tree: paths beyond PATH_MAX, I/O errors
                yield Skipped(self.name, dir_lp, _os_error_reason(exc))
                continue
            subdirs: list[str] = []
            for entry in entries:
                yield from self._walk_entry(entry, covered, subdirs)
            stack.extend(reversed(subdirs))

    def _walk_entry(self, entry: os.DirEntry[str], covered: list[str], subdirs: list[str]) -> Iterator[Item | Skipped]:
        """One entry of a listed directory: a file, a directory to walk next, a link to follow, or skipped."""
        # A name that is not UTF-8 stays as its raw bytes (surrogate escapes, docs/file-names.md).
        lp = self._laptop_path(entry.path)
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            yield Skipped(self.name, lp, "vanished")
            return
        except PermissionError:
            yield Skipped(self.name, lp, "permission_denied")
            return
        except OSError as exc:
            yield Skipped(self.name, lp, _os_error_reason(exc))
            return
        if stat_mod.S_ISDIR(st.st_mode):
            subdirs.append(entry.path)
        elif stat_mod.S_ISREG(st.st_mode):
            yield self._item(lp, st)
        elif stat_mod.S_ISLNK(st.st_mode):
            yield from self._follow_link(entry.path, lp, covered, subdirs)
        else:
            yield Skipped(self.name, lp, "special_file")

    def _follow_link(self, link: str, lp: str, covered: list[str], to_walk: list[str]) -> Iterator[Item | Skipped]:
        """Follow one symlink found while listing, at most once, never out of the root."""
        try:
            raw_target = os.readlink(link)
        except OSError:
            yield Skipped(self.name, lp, "vanished")
            return
        real = os.path.realpath(link)
        if not _is_under(real, self.root):
            yield Skipped(self.name, lp, "symlink_out_of_scope", target=raw_target)
            return
        target_lp = self._laptop_path(real)
        try:
            tst = os.stat(link)
        except OSError as exc:
            reason = "symlink_loop" if exc.errno == errno.ELOOP else "vanished"
            yield Skipped(self.name, lp, reason, target=target_lp)
            return
        if stat_mod.S_ISREG(tst.st_mode):
            if not any(_is_under(real, base) for base in covered):
                try:
                    yield self._item(target_lp, os.lstat(real))
                except OSError:
                    yield Skipped(self.name, lp, "vanished", target=target_lp)
        elif stat_mod.S_ISDIR(tst.st_mode):
            link_parent = os.path.realpath(os.path.dirname(link))
            if _is_under(link_parent, real):
                yield Skipped(self.name, lp, "symlink_loop", target=target_lp)
            elif not any(_is_under(real, base) for base in covered):
                covered.append(real)
                to_walk.append(real)
        else:
            yield Skipped(self.name, lp, "special_file", target=target_lp)

    def list_names(self, path: str) -> list[str]:
        """Sorted entry names of the directory `path` (the `NameLister` capability used by discovery).

        Returns [] when the path does not exist or is not a directory. A directory reached through a
        symlink is listed only if it resolves inside the root.

        Raises:
            AccessDeniedError: the directory may not be read or resolves outside the root.
        """
        norm = normalize_path(path)
        fs_path = self._checked(norm)
        if not _is_under(os.path.realpath(fs_path), self.root):
            raise AccessDeniedError("path resolves outside the endpoint root", path=norm)
        try:
            return sorted(os.listdir(fs_path))
        except (FileNotFoundError, NotADirectoryError):
            return []
        except PermissionError as exc:
            raise AccessDeniedError("permission denied", path=norm) from exc
        except OSError as exc:  # a symlink loop or an over-long path: listing the path reports it
            raise AccessDeniedError(f"cannot list ({_os_error_reason(exc)})", path=norm) from exc

    # -- single items ----------------------------------------------------------------------------------------

    def stat(self, path: str) -> Item:
        """Current `Item` for `path` (lstat: a final symlink or a special file is refused)."""
        fs_path = self._checked(path)
        return self._item(normalize_path(path), self._lstat_regular(fs_path, normalize_path(path)))

    def open(self, item: Item) -> BinaryIO:
        """Open the item read-only without following a final symlink and without blocking on FIFOs."""
        path = normalize_path(item.path)
        fs_path = self._checked(path)
        try:
            fd = os.open(fs_path, _OPEN_FLAGS)
        except FileNotFoundError:
            raise ItemNotFoundError("no such item", path=path) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise AccessDeniedError("path is a symlink", path=path) from exc
            if exc.errno in (errno.EACCES, errno.EPERM):
                raise AccessDeniedError("permission denied", path=path) from exc
            raise TransferError("open failed", path=path) from exc
        st = os.fstat(fd)
        if not stat_mod.S_ISREG(st.st_mode):
            os.close(fd)
            raise AccessDeniedError("not a regular file", path=path)
        # Bounded by the size at open: a writer appending without end cannot keep a reader busy forever.
        return io.BufferedReader(_SizeBoundReader(fd, st.st_size), buffer_size=CHUNK_SIZE)

    def _sha256(self, fs_path: str, path: str, limit: int) -> str:
        """sha256 of at most `limit` bytes (more than expected already means a different hash)."""
        digest = hashlib.sha256()
        try:
            fd = os.open(fs_path, _OPEN_FLAGS)
        except FileNotFoundError:
            raise VersionConflictError("item vanished since it was read", path=path) from None
        except OSError as exc:  # swapped for a symlink (ELOOP) or a FIFO since the lstat: never read it
            raise VersionConflictError("item is no longer a regular file", path=path) from exc
        if not stat_mod.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise VersionConflictError("item is no longer a regular file", path=path)
        with os.fdopen(fd, "rb") as stream:
            while limit > 0 and (chunk := stream.read(min(CHUNK_SIZE, limit))):
                digest.update(chunk)
                limit -= len(chunk)
        return digest.hexdigest()

    def _check_expected(self, fs_path: str, path: str, expected: Expected, *, rehash: bool) -> None:
        try:
            st = os.lstat(fs_path)
        except FileNotFoundError:
            raise VersionConflictError("item vanished since it was read", path=path) from None
        except OSError as exc:
            raise TransferError(f"stat failed ({_os_error_reason(exc)})", path=path) from exc
        if stat_mod.S_ISLNK(st.st_mode) or not stat_mod.S_ISREG(st.st_mode):
            raise VersionConflictError("item is no longer a regular file", path=path)
        if st.st_size != expected.size or _version(st) != expected.version:
            raise VersionConflictError("item changed since it was read", path=path)
        if rehash and expected.sha256 is not None and self._sha256(fs_path, path, expected.size + 1) != expected.sha256:
            raise VersionConflictError("item content changed since it was read", path=path)

    @staticmethod
    def _fsync_dir(directory: str) -> None:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def replace(self, item: Item, chunks: Iterable[bytes], expected: Expected, *, temp_name: str | None = None) -> Item:
        """Atomically swap in new content if the file still matches `expected`.

        Writes a `.dsr-tmp-*` file beside the target (exactly `temp_name` when given, created exclusively and
        never through a link; an existing entry of that name is a conflict), fsyncs it, copies mode, ownership
        and mtime, re-checks size, version and (if given) sha256 just before `os.replace`, then fsyncs the
        directory. The rename replaces the directory entry, so other hard links keep the old content.
        Remaining race window: a writer between the re-check and the rename (microseconds) is not detected.

        Raises:
            VersionConflictError: the file changed since it was read; nothing was written.
            AccessDeniedError: the path is a symlink, a special file or out of the root.
            TransferError: the disk refused the write.
        """
        path = normalize_path(item.path)
        fs_path = self._checked(path)
        st = self._lstat_regular(fs_path, path)
        self._check_expected(fs_path, path, expected, rehash=False)
        directory = os.path.dirname(fs_path)
        tmp: str | None = None
        try:
            try:
                if temp_name is None:
                    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=directory)
                else:
                    named = os.path.join(directory, check_temp_name(temp_name))
                    fd = os.open(named, _CREATE_FLAGS, 0o600)
                    tmp = named
            except PermissionError as exc:
                raise AccessDeniedError("directory not writable", path=path) from exc
            except FileExistsError as exc:
                raise VersionConflictError("a temporary file of that name is in the way", path=path) from exc
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                out.flush()
                os.fchmod(out.fileno(), stat_mod.S_IMODE(st.st_mode))
                if (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
                    try:
                        os.fchown(out.fileno(), st.st_uid, st.st_gid)
                    except PermissionError as exc:
                        raise AccessDeniedError("cannot keep the file's ownership", path=path) from exc
                os.fsync(out.fileno())
            os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
            self._check_expected(fs_path, path, expected, rehash=True)
            os.replace(tmp, fs_path)
            tmp = None
            self._fsync_dir(directory)
        except OSError as exc:
            raise TransferError("write failed", path=path) from exc
        finally:
            if tmp is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
        return self._item(path, os.lstat(fs_path))

    def delete(self, item: Item, expected: Expected | None = None) -> bool:
        """Unlink the item's name (other hard links survive); False if it was already gone."""
        path = normalize_path(item.path)
        fs_path = self._checked(path)
        try:
            self._lstat_regular(fs_path, path)
        except ItemNotFoundError:
            return False
        if expected is not None:
            self._check_expected(fs_path, path, expected, rehash=True)
        try:
            os.unlink(fs_path)
        except FileNotFoundError:
            return False
        except PermissionError as exc:
            raise AccessDeniedError("permission denied", path=path) from exc
        except OSError as exc:  # e.g. swapped for a directory since the check
            raise TransferError("unlink failed", path=path) from exc
        try:
            self._fsync_dir(os.path.dirname(fs_path))
        except OSError as exc:
            raise TransferError("directory sync failed after unlink", path=path) from exc
        return True

    def delete_tree(self, path: str) -> int:
        """Remove a directory tree without following symlinks (links are unlinked, not followed).

        Returns:
            The number of non-directory entries removed; 0 if the directory was already gone.

        Raises:
            AccessDeniedError: the path is a symlink, not a directory, or the endpoint root.
        """
        norm = normalize_path(path)
        fs_path = self._checked(norm)
        if fs_path == self.root:
            raise AccessDeniedError("refusing to delete the endpoint root", path=norm)
        try:
            st = os.lstat(fs_path)
        except FileNotFoundError:
            return 0
        if stat_mod.S_ISLNK(st.st_mode):
            raise AccessDeniedError("path is a symlink", path=norm)
        if not stat_mod.S_ISDIR(st.st_mode):
            raise AccessDeniedError("not a directory", path=norm)
        removed = 0
        try:
            for _dirpath, dirnames, filenames, dirfd in os.fwalk(fs_path, topdown=False, follow_symlinks=False):
                for name in filenames:
                    os.unlink(name, dir_fd=dirfd)
                    removed += 1
                for name in dirnames:
                    if stat_mod.S_ISLNK(os.stat(name, dir_fd=dirfd, follow_symlinks=False).st_mode):
                        os.unlink(name, dir_fd=dirfd)
                        removed += 1
                    else:
                        os.rmdir(name, dir_fd=dirfd)
            os.rmdir(fs_path)
        except PermissionError as exc:
            raise AccessDeniedError("permission denied", path=norm) from exc
        except OSError as exc:
            raise TransferError("tree removal failed", path=norm) from exc
        self._fsync_dir(os.path.dirname(fs_path))
        return removed

    def verify(self, item: Item) -> Item | None:
        """The current `Item` at the item's path (fresh lstat), or None if it is gone."""
        path = normalize_path(item.path)
        try:
            return self.stat(path)
        except ItemNotFoundError:
            return None

    def database_path(self, item: Item) -> str:
        """The real path of a database file, for changing it in place with SQLite (app closed).

        Refuses a symlink, anything but a regular file, a hard-linked file (it would change the other
        name too) and a path that leads out of the root.

        Raises:
            AccessDeniedError: any of the above.
            ItemNotFoundError: the file is gone.
        """
        fs_path = self._fs_path(item.path)
        try:
            st = os.lstat(fs_path)
        except FileNotFoundError as exc:
            raise ItemNotFoundError("database vanished", path=item.path) from exc
        real = os.path.realpath(fs_path)
        if not stat_mod.S_ISREG(st.st_mode) or st.st_nlink > 1 or real != fs_path or not _is_under(real, self.root):
            raise AccessDeniedError("database is a link or not a regular file", path=item.path)
        return real

    def activity(self) -> Activity:
        """Busy if a `~/.claude/sessions/<pid>.json` names a live local pid, or the simulated-busy marker exists."""
        self._require_root()
        evidence: list[str] = []
        if os.path.lexists(os.path.join(self.root, SIMULATED_BUSY_MARKER)):
            evidence.append("/" + SIMULATED_BUSY_MARKER)
        for pattern in ACTIVITY_MARKER_GLOBS:
            for marker in sorted(Path(self.root).glob(pattern)):
                real = os.path.realpath(marker)
                if not _is_under(real, self.root) or not marker.stem.isdigit():
                    continue
                if is_pid_alive(int(marker.stem)):
                    evidence.append(self._laptop_path(str(marker)))
        return Activity(agent_running=bool(evidence), evidence=tuple(evidence))

    def close(self) -> None:
        """Nothing to release."""
