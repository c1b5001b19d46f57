"""What package assembly produces for a simulated fleet, as digests: to show a speed-up changes no output.

Not a test. Runs what `benchmarks.assembly` runs (simulate a fleet, submit an access request for its first
planted subject, scan every laptop, assemble the package) and records, before the package is sealed, a digest
of every text file of the built package (each record's redacted content, categories and redaction counts are in
data/*.jsonl; report.json holds them again) and every release-check hit (file, place, reason, source). Dates
and times are replaced by a marker first: the request's own dates (received, due, generated) differ from run
to run, the data's do not change with redaction. manifest.json is left out (it lists the files' digests,
report.pdf's among them, which holds the dates).

Run it on two checkouts with the same arguments and compare the files (`--compare A B` says which entries
differ). Writes JSON only; prints no content.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.assembly import _fleet
from benchmarks.planted import submit_access

_STAMP = re.compile(
    r"\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?)?"
    r"|\b\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{4}(?:, \d\d:\d\d)?"
)


def _digest(text: str) -> str:
    return hashlib.sha256(_STAMP.sub("<date>", text).encode("utf-8", "surrogatepass")).hexdigest()


def _package_digests(root: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".jsonl", ".json", ".html", ".csv")):
        rel = path.relative_to(root).as_posix()
        if rel == "manifest.json":  # the digests of the files below, report.pdf's (which holds the dates) too
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        out[rel] = _digest(text)
        if rel.endswith(".jsonl"):  # one digest a line as well: a difference is then found at its record
            out[rel + "#lines"] = [_digest(line) for line in text.splitlines()]
    return out


def run(work: Path, laptops: int, size_mb: float, seed: int, redact_with: tuple[str, ...] | None) -> dict[str, Any]:
    """Simulate, submit, scan and assemble; the digests of the unsealed package and the release-check hits."""
    from models.settings import load_settings  # noqa: PLC0415
    from services import access as access_module  # noqa: PLC0415
    from services.release_check import ReleaseBlockedError  # noqa: PLC0415

    access: Any = access_module  # its check and seal are wrapped below

    config = _fleet(work, laptops, size_mb, seed)
    request_id = submit_access(config, 1, "benchmark: request from the employee's own account")[0]
    settings = load_settings(config)
    for location in access.begin_access(settings, request_id):
        access.scan_location(settings, request_id, location)
    captured: dict[str, Any] = {"hits": []}
    check, seal, draft = access._ReleaseCheck.the_rest, access.seal_package, access.seal_draft

    def checking(*args: Any, **kwargs: Any) -> Any:  # every hit, the pages' (checked by a forked child) too
        hits = check(*args, **kwargs)
        captured["hits"].extend(h.as_dict() for h in hits)
        return hits

    def sealing(path: Path, *args: Any, **kwargs: Any) -> Any:
        captured["files"] = _package_digests(path)
        return seal(path, *args, **kwargs)

    def drafting(path: Path, *args: Any, **kwargs: Any) -> Any:
        captured["files"] = _package_digests(path)
        return draft(path, *args, **kwargs)

    sources = access.REDACTION_SOURCES
    access._ReleaseCheck.the_rest, access.seal_package, access.seal_draft = checking, sealing, drafting
    if redact_with is not None:  # redaction leaves some people in: the release check then has hits to compare
        access.REDACTION_SOURCES = redact_with
    try:
        access.assemble_package(settings, request_id, allow_incomplete_register=True)
    except ReleaseBlockedError:
        captured["blocked"] = True
    finally:
        access._ReleaseCheck.the_rest, access.seal_package, access.seal_draft = check, seal, draft
        access.REDACTION_SOURCES = sources
    captured["hits"].sort(key=lambda h: (h["file"], h["place"], h["reason"], h["item"]))
    return captured


def compare(first: Path, second: Path) -> int:
    """Print which entries of two digest files differ (names only); 0 when none do."""
    a, b = (json.loads(p.read_text(encoding="utf-8")) for p in (first, second))
    differ = [k for k in sorted(set(a) | set(b)) if k != "files" and a.get(k) != b.get(k)]
    files_a, files_b = a.get("files", {}), b.get("files", {})
    for name in sorted(set(files_a) | set(files_b)):
        if files_a.get(name) != files_b.get(name):
            lines_a, lines_b = files_a.get(name), files_b.get(name)
            if isinstance(lines_a, list) and isinstance(lines_b, list):
                bad = [n + 1 for n, (x, y) in enumerate(zip(lines_a, lines_b, strict=False)) if x != y]
                differ.append(f"{name} lines {bad[:10]} (of {len(lines_a)} / {len(lines_b)})")
            else:
                differ.append(name)
    print(json.dumps({"files": len(files_a), "hits": len(a.get("hits", [])), "differ": differ}, indent=1))
    return 1 if differ else 0


def main(argv: list[str] | None = None) -> int:
    """Run the fleet and write the digests, or compare two digest files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--laptops", type=int, default=10)
    parser.add_argument("--size-mb", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, help="write the digests here (JSON)")
    parser.add_argument(
        "--redact-with", default=None, help="redact with only these sources of other people (comma-separated)"
    )
    parser.add_argument("--compare", type=Path, nargs=2, metavar=("A", "B"), help="compare two digest files")
    args = parser.parse_args(argv)
    if args.compare:
        return compare(*args.compare)
    if args.out is None:
        parser.error("--out FILE or --compare A B is required")
    work = Path(tempfile.mkdtemp(prefix="dsr-assembly-outputs-"))
    try:
        sources = tuple(args.redact_with.split(",")) if args.redact_with else None
        row = run(work, args.laptops, args.size_mb, args.seed, sources)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.write_text(json.dumps(row, indent=1) + "\n", encoding="utf-8")
    print(f"{len(row['files'])} files, {len(row['hits'])} hits", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
