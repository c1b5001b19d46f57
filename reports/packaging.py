"""Package plumbing shared by every report: safe file names, atomic directories, manifests, zips, PDF printing.

Owns how a package reaches the disk (temp directory beside the target, then rename; nothing half-written).
Must not know what a report says; never logs file contents.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from models.errors import InputError
from models.files import atomic_writer

_SAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_PACKAGE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
MAX_NAME = 80
CHROMIUM_CANDIDATES = (Path("/usr/bin/chromium"), Path("/usr/bin/chromium-browser"), Path("/usr/bin/google-chrome"))
PDF_TIMEOUT_S = 120.0
MANIFEST = "manifest.json"
#: Bytes a zip reads and compresses at a time. zlib compresses a piece without Python's lock, and a thread
#: zipping beside a check waits for that lock after each piece: 8 MiB pieces zip a 31 MiB package beside a busy
#: thread in 0.9 s, 1 MiB pieces in 1.5 s (0.5-0.7 s alone either way). But the pieces and their compressed
#: copies stay in the process's memory (the allocator keeps large blocks once it has freed one): a 500-laptop
#: run peaked at 306 MB with 8 MiB pieces and 120 000 strings remembered by the release check, at 285 MB with
#: 1 MiB pieces and 100 000 strings (277 MB with 50 000).
ZIP_PIECE = 1 << 20


def safe_name(raw: str, fallback: str = "item") -> str:
    """A file name made from an untrusted string (laptop names, session ids, paths).

    Keeps ASCII letters, digits, dot, underscore and dash; folds everything else to `_`; never starts with a
    dot, never is empty, `.`/`..` or a Windows device name; at most `MAX_NAME` characters. When the result
    differs from the input a short hash of the input is appended, so two different hostile names never map to
    the same file.

    Args:
        raw: the untrusted string.
        fallback: used when nothing usable is left.

    Returns:
        A single path component safe on POSIX and Windows.
    """
    folded = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode("ascii")
    cleaned = _SAFE_CHARS.sub("_", folded).strip("._-")
    if not cleaned:
        cleaned = fallback
    stem, dot, rest = cleaned.partition(".")
    if stem.lower() in _WINDOWS_RESERVED:
        cleaned = f"{stem}_{dot}{rest}"
    cleaned = cleaned[:MAX_NAME]
    if cleaned != raw:
        digest = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        cleaned = f"{cleaned[: MAX_NAME - 9]}-{digest}"
    return cleaned


@dataclass
class NameBook:
    """Unique safe names within one directory, also on case-insensitive file systems (zip opened on a Mac)."""

    _by_raw: dict[str, str] = field(default_factory=dict)
    _taken: set[str] = field(default_factory=set)

    def name(self, raw: str, fallback: str = "item", suffix: str = "") -> str:
        """The file name for `raw` (the same raw string always gets the same name)."""
        found = self._by_raw.get(raw)
        if found is not None:
            return found
        base = safe_name(raw, fallback)
        candidate = base + suffix
        counter = 1
        while candidate.lower() in self._taken:
            counter += 1
            candidate = f"{base}-{counter}{suffix}"
        self._taken.add(candidate.lower())
        self._by_raw[raw] = candidate
        return candidate


def check_package_id(request_id: str) -> str:
    """The request id as a directory name; request ids are ours, so anything unusual is refused.

    Raises:
        InputError: the id is not a plain name.
    """
    if not _PACKAGE_ID.match(request_id) or request_id in {".", ".."}:
        raise InputError(f"request id {request_id!r} cannot name a package directory", key="request_id")
    return request_id


def write_json(path: Path, value: object) -> None:
    """Write `value` as indented UTF-8 JSON (keys in insertion order) with a trailing newline.

    Streamed to the file (a package's report.json holds every record: its text is never held whole)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        json.dump(value, fh, ensure_ascii=False, indent=2)
        fh.write("\n")


def write_chunks(path: Path, chunks: Iterable[str]) -> None:
    """Write a text file (UTF-8) piece by piece, as `Path.write_text` of their concatenation writes it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for chunk in chunks:
            fh.write(chunk)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def package_files(root: Path) -> list[str]:
    """Every file under `root` (following no link to a directory), as relative POSIX paths, in the order sorted
    `Path`s give (part by part). Strings, not `Path`s: a package of a large fleet holds tens of thousands of
    files, and a `Path` costs several times its string.

    Raises:
        OSError: a directory could not be listed (a package's file is never left out unseen).
    """
    found: list[str] = []
    for directory, _dirs, names in os.walk(root, onerror=_unlisted):
        rel = Path(directory).relative_to(root).as_posix()
        prefix = "" if rel == "." else f"{rel}/"
        found += [prefix + name for name in names if os.path.isfile(os.path.join(directory, name))]
    found.sort(key=_by_parts)
    return found


def _unlisted(error: OSError) -> None:
    raise error


def _by_parts(rel: str) -> str:
    """A sort key giving `Path` order: parts compared in turn, a part before any longer part it begins."""
    return rel.replace("/", "\0")


def write_manifest(root: Path, header: dict[str, object]) -> str:
    """Write `manifest.json` (sha256 and size of every other file) and return the manifest's own sha256.

    The manifest's hash is the package hash recorded on the request: it fixes every file's content.
    """
    files = []
    for rel in package_files(root):
        if rel == MANIFEST:
            continue
        path = root / rel
        files.append({"path": rel, "sha256": sha256_file(path), "size": path.stat().st_size})
    manifest = {**header, "algorithm": "sha256", "files": files}
    write_json(root / MANIFEST, manifest)
    return sha256_file(root / MANIFEST)


def verify_manifest(root: Path) -> list[str]:
    """Check a package against its manifest.json.

    Args:
        root: the package directory.

    Returns:
        Problems as `<relative path>: missing|modified|size differs|not in manifest` (empty when intact).
    """
    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [f"{MANIFEST}: missing or unreadable"]
    problems: list[str] = []
    listed: set[str] = set()
    for entry in manifest.get("files", []):
        rel = str(entry.get("path", ""))
        listed.add(rel)
        path = root / rel
        if not path.resolve().is_relative_to(root.resolve()) or not path.is_file():
            problems.append(f"{rel}: missing")
        elif path.stat().st_size != entry.get("size"):
            problems.append(f"{rel}: size differs")
        elif sha256_file(path) != entry.get("sha256"):
            problems.append(f"{rel}: modified")
    for rel in package_files(root):
        if rel != MANIFEST and rel not in listed:
            problems.append(f"{rel}: not in manifest")
    return problems


def zip_directory(root: Path, target: Path | BinaryIO, arc_root: str, when: datetime) -> None:
    """Zip `root` into `target` (entries under `arc_root/`, sorted, fixed timestamps: reproducible bytes).

    Each file is copied in pieces of `ZIP_PIECE` bytes (the bytes `ZipFile.writestr` of the whole file gives),
    never read whole."""
    stamp = max(when.timetuple()[:6], (1980, 1, 1, 0, 0, 0))
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for rel in package_files(root):
            path = root / rel
            info = zipfile.ZipInfo(f"{arc_root}/{rel}", date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.file_size = path.stat().st_size  # as writestr sets it (it decides whether ZIP64 is needed)
            with path.open("rb") as source, zf.open(info, "w") as entry:
                shutil.copyfileobj(source, entry, ZIP_PIECE)


def _zip_while(
    root: Path, target: BinaryIO, arc_root: str, when: datetime, work: Callable[[Path], None] | None
) -> None:
    """`zip_directory`, in a thread while `work(root)` runs here when there is work; both have ended on return."""
    if work is None:
        zip_directory(root, target, arc_root, when)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="zip") as pool:
        zipped = pool.submit(zip_directory, root, target, arc_root, when)
        work(root)  # an exception leaves the block once the zip has finished (the pool waits for its thread)
    zipped.result()


@contextmanager
def atomic_package(
    out_dir: Path, name: str, zip_time: datetime, while_zipping: Callable[[Path], None] | None = None
) -> Iterator[Path]:
    """Build a package directory atomically: yield a temp directory beside `out_dir/name`, then rename it.

    After the caller's block the temp directory is zipped (entries under `name/`), then it becomes
    `out_dir/name` (an older package of that name is replaced) and the zip `out_dir/name.zip`. On any failure
    nothing is left: neither the temp directory nor a partial zip; an older package stays as it was.
    `while_zipping` (optional) is called with the finished temp directory while a thread zips it (zlib
    compresses without Python's lock, so a check of the files there runs meanwhile); an exception from it
    aborts the package like any other, once the zip thread has finished.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    check_package_id(name)
    temp = Path(tempfile.mkdtemp(prefix=f".{name}.building-", dir=out_dir))
    final, final_zip = out_dir / name, out_dir / f"{name}.zip"
    old = out_dir / f".{name}.old-{temp.name.rsplit('-', 1)[-1]}"
    try:
        yield temp
        # The zip is published (atomic_writer) only after the directory took its final name.
        with atomic_writer(final_zip) as zip_file:
            _zip_while(temp, zip_file, name, zip_time, while_zipping)
            if final.exists():
                final.rename(old)
            temp.rename(final)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        if old.exists() and not final.exists():
            old.rename(final)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def find_pdf_engine() -> Path | None:
    """The headless Chromium used to print HTML to PDF, or None when none is installed."""
    for candidate in CHROMIUM_CANDIDATES:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def print_pdf(html_path: Path, pdf_path: Path, engine: Path | None = None) -> str:
    """Print an HTML file to PDF with headless Chromium.

    Args:
        html_path: the page (opened as a `file://` URL; it needs no network).
        pdf_path: where the PDF goes.
        engine: the browser binary; found with `find_pdf_engine` when None.

    Returns:
        `written`, `skipped: no PDF engine installed`, or `failed: <reason>` (the package is valid without PDF).
    """
    engine = engine or find_pdf_engine()
    if engine is None:
        return "skipped: no PDF engine installed"
    with tempfile.TemporaryDirectory(prefix="dsr-chromium-") as profile:
        argv = [
            str(engine),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf_path}",
            html_path.resolve().as_uri(),
        ]
        try:
            subprocess.run(  # noqa: S603 - fixed argv, the binary is a known absolute path, no shell
                argv,
                check=True,
                capture_output=True,
                timeout=PDF_TIMEOUT_S,
                env={**os.environ, "HOME": profile},
            )
        except subprocess.TimeoutExpired:
            pdf_path.unlink(missing_ok=True)
            return "failed: PDF engine timed out"
        except (subprocess.CalledProcessError, OSError) as exc:
            pdf_path.unlink(missing_ok=True)
            return f"failed: PDF engine error ({exc.__class__.__name__})"
    if not pdf_path.is_file() or pdf_path.stat().st_size == 0:
        pdf_path.unlink(missing_ok=True)
        return "failed: PDF engine wrote nothing"
    return "written"
