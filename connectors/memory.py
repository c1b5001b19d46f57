"""In-memory connector with the full `Connector` contract, for unit tests and dry runs.

Owns a dict of laptop paths to bytes (with hard links and a concurrent-writer hook). Decides nothing and
touches no disk; it has no symlinks, FIFOs or devices, so those parts of the contract hold trivially.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

from connectors.base import Activity, ConnectorBase, Expected, Item, Skipped, sha256_of
from models.errors import AccessDeniedError, ItemNotFoundError, VersionConflictError

SIMULATED_BUSY_MARKER = "/.dsr-simulated-busy"
_EPOCH_NS = 1_700_000_000 * 10**9


def normalize_path(path: str) -> str:
    """Return the canonical laptop path (`/a/b`) or raise `AccessDeniedError` for relative or `..` paths."""
    if not path.startswith("/") or "\x00" in path:
        raise AccessDeniedError("path is not absolute", path=path)
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise AccessDeniedError("path leaves the root", path=path)
    return "/" + "/".join(parts)


@dataclass
class _Node:
    """One inode: content shared by every name hard-linked to it."""

    data: bytes
    ino: int
    mtime_ns: int
    links: int = 1


class MemoryConnector(ConnectorBase):
    """A laptop (or store) held in a dict; implements the `Connector` protocol.

    Args:
        name: endpoint name used as `Item.location`.
        files: initial content, laptop path -> bytes.
        before_commit: optional hook called with the path just before `replace`/`delete` re-checks the
            precondition; tests use it to simulate a writer racing with the change (e.g. `append`).
    """

    def __init__(
        self,
        name: str,
        files: Mapping[str, bytes] | None = None,
        *,
        before_commit: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self.before_commit = before_commit
        self.busy = False
        self._files: dict[str, _Node] = {}
        self._inodes = itertools.count(1000)
        self._clock = itertools.count(1)
        for path, data in (files or {}).items():
            self.write_file(path, data)

    # -- test helpers (not part of the protocol) -------------------------------------------------------

    def _tick(self) -> int:
        return _EPOCH_NS + next(self._clock) * 1_000_000

    def write_file(self, path: str, data: bytes, *, modified_at: datetime | None = None) -> None:
        """Create or overwrite `path` out of band (a new inode, as an editor's save would)."""
        mtime = int(modified_at.timestamp() * 1e9) if modified_at else self._tick()
        self._set(normalize_path(path), _Node(bytes(data), next(self._inodes), mtime))

    def append(self, path: str, data: bytes) -> None:
        """Append to `path` in place, as an app writing its log would (same inode, new size and mtime)."""
        node = self._node(normalize_path(path))
        node.data += data
        node.mtime_ns = self._tick()

    def link(self, existing: str, new: str) -> None:
        """Make `new` a hard link to `existing`."""
        node = self._node(normalize_path(existing))
        node.links += 1
        self._set(normalize_path(new), node)

    def snapshot(self) -> dict[str, bytes]:
        """Every path and its bytes."""
        return {path: node.data for path, node in sorted(self._files.items())}

    # -- protocol --------------------------------------------------------------------------------------

    def _set(self, path: str, node: _Node) -> None:
        """Point `path` at `node`, dropping the name's previous link (the node's count is the caller's)."""
        old = self._files.get(path)
        if old is not None:
            old.links -= 1
        self._files[path] = node

    def _drop(self, path: str) -> None:
        self._files.pop(path).links -= 1

    def _node(self, path: str) -> _Node:
        try:
            return self._files[path]
        except KeyError:
            raise ItemNotFoundError("no such item", path=path) from None

    def _item(self, path: str, node: _Node) -> Item:
        return Item(
            location=self.name,
            path=path,
            size=len(node.data),
            mtime=datetime.fromtimestamp(node.mtime_ns / 1e9, tz=UTC),
            version=f"{node.ino}:{len(node.data)}:{node.mtime_ns}",
            nlink=node.links,
        )

    def _check(self, path: str, node: _Node, expected: Expected) -> None:
        current = self._item(path, node)
        if current.size != expected.size or current.version != expected.version:
            raise VersionConflictError("item changed since it was read", path=path)
        if expected.sha256 is not None and sha256_of([node.data]) != expected.sha256:
            raise VersionConflictError("item content changed since it was read", path=path)

    def iter_items(self, prefix: str = "/") -> Iterator[Item | Skipped]:
        """Yield an `Item` per file at or under `prefix`, in path order."""
        prefix = normalize_path(prefix)
        if prefix in self._files:
            yield self._item(prefix, self._files[prefix])
            return
        base = prefix.rstrip("/") + "/"
        for path in sorted(self._files):
            if path.startswith(base) and path in self._files:
                yield self._item(path, self._files[path])

    def list_names(self, path: str) -> list[str]:
        """Sorted names directly below the directory `path` ([] if nothing is there)."""
        base = normalize_path(path).rstrip("/") + "/"
        return sorted({name[len(base) :].split("/", 1)[0] for name in self._files if name.startswith(base)})

    def stat(self, path: str) -> Item:
        """Return the current `Item` for `path`; `ItemNotFoundError` if absent."""
        path = normalize_path(path)
        return self._item(path, self._node(path))

    def open(self, item: Item) -> BinaryIO:
        """Return a stream over a snapshot of the item's current bytes."""
        path = normalize_path(item.path)
        return io.BytesIO(self._node(path).data)

    def replace(self, item: Item, chunks: Iterable[bytes], expected: Expected, *, temp_name: str | None = None) -> Item:
        """Swap in new content if `expected` still holds; a new inode, so hard links keep the old bytes.

        Writes no temporary file, so `temp_name` is not used."""
        path = normalize_path(item.path)
        self._check(path, self._node(path), expected)
        data = b"".join(chunks)
        if self.before_commit is not None:
            self.before_commit(path)
        node = self._files.get(path)
        if node is None:
            raise VersionConflictError("item vanished since it was read", path=path)
        self._check(path, node, expected)
        new = _Node(data, next(self._inodes), node.mtime_ns)
        self._set(path, new)
        return self._item(path, new)

    def delete(self, item: Item, expected: Expected | None = None) -> bool:
        """Remove the name; False if it was already gone."""
        path = normalize_path(item.path)
        if path not in self._files:
            return False
        if self.before_commit is not None:
            self.before_commit(path)
        node = self._files.get(path)
        if node is None:
            return False
        if expected is not None:
            self._check(path, node, expected)
        self._drop(path)
        return True

    def delete_tree(self, path: str) -> int:
        """Remove every file under `path`; the number removed (0 if nothing was there)."""
        path = normalize_path(path)
        if path == "/":
            raise AccessDeniedError("refusing to delete the endpoint root", path=path)
        if path in self._files:
            raise AccessDeniedError("not a directory", path=path)
        base = path + "/"
        doomed = [name for name in self._files if name.startswith(base)]
        for name in doomed:
            self._drop(name)
        return len(doomed)

    def verify(self, item: Item) -> Item | None:
        """The current `Item` at the item's path, or None if it is gone."""
        path = normalize_path(item.path)
        node = self._files.get(path)
        return None if node is None else self._item(path, node)

    def activity(self) -> Activity:
        """Busy when `busy` is set or the simulated-busy marker file exists."""
        evidence: list[str] = []
        if self.busy:
            evidence.append("memory:busy")
        if SIMULATED_BUSY_MARKER in self._files:
            evidence.append(SIMULATED_BUSY_MARKER)
        return Activity(agent_running=bool(evidence), evidence=tuple(evidence))

    def close(self) -> None:
        """Nothing to release."""
