"""The Art. 15 access package: report.html, report.json, data/ copies, manifest.json, zip and optional PDF.

Owns the package's layout and the machine-readable report; takes finished, already redacted items (the
access flow redacted third parties, Art. 15(4)). Imports models and reports only; must not scan, detect or redact.

Package layout (`out_dir/<request_id>/`, zipped to `out_dir/<request_id>.zip`, built in a temp directory
beside it and renamed, so a failure leaves nothing half-written):

    report.html      for the person: summary, Art. 15(1)(a)-(h) and 15(2), the copy, systems searched, timeline
    report.pdf       the same page printed by headless Chromium, only when it is installed; a copy of more than
                     `[access].pdf_max_items` records is printed without them (the summary form: every section,
                     each conversation with its count, or only the counts per laptop when the conversations are
                     more than that too, and a statement that the records are in report.html and data/):
                     Chromium needs minutes and gigabytes for thousands of pages
    report.json      machine-readable; schema in reports/report_schema.json (JSON Schema 2020-12)
    data/<location>/<session or file>.jsonl            the subject's records, one JSON object per item
    data/<location>/<session or file>.images/<n>.<ext> images belonging to the subject
    manifest.json    sha256 and size of every other file; its own sha256 is the package hash

report.json (see the schema for every field): `schema` (`dsr-orchestrator/access-report/1`), `request_id`,
`kind`, dates, `controller`, `confirmation` (true when any item was found; a negative answer is still an
answer), `gaps_note`, `summary` (counts by location, category, kind), `items` (one per finding: `location` as
in the interfaces doc, `kind`, `app`, `session_id`, `timestamp`, `categories`, `content` (redacted), `reason`,
`redactions`, `context`, `data_file`, `images`), `searched` (every location with `status` and `reason`),
`redactions` (`count` and `reasons`: code -> count), `article15` (`a_purposes`, `b_categories`,
`c_recipients`, `d_retention`, `e_rights`, `f_complaint`, `g_source`, `h_automated_decisions`,
`art15_2_transfers` with `processors`), `pdf` (`included` / `not included`), `pdf_form` (what it holds:
`full: ...` or `summary: ...` with the counts and the limit; null without a PDF).

A line of `data/...jsonl`: `{"location", "kind", "timestamp", "categories", "reason", "record"}` with the
decoded redacted record, or `"text"` instead of `"record"` when the item is a text line.

Art. 15 answers come from the processing register, tailored to the categories actually found: a category
that was not found is not listed. Detection's codes `contact_details` and `free_text_mentions` are read as the
register's `contact` and `free_text`. Nothing is a default: an answer the register does not give (a category it
lacks, a key it does not set) reads "being completed, by <date>" (`pending_text`); the access service issues such
a package only when incomplete registers are allowed. report.json also holds `scope` (where we looked and what
was not searched, in plain words) and `being_completed` (those points, or null).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

from models.settings import PDF_MAX_ITEMS
from reports.access_html import CopyDetail, iter_access_html
from reports.access_input import (
    PackageInput,
    PackageItem,
    explain_reason,
    found_categories,
    group_key,
    image_extension,
    in_package_order,
    location_name,
    not_searched,
    pending_text,
    points_being_completed,
    rights_text,
    status_text,
)
from reports.packaging import NameBook, atomic_package, print_pdf, write_chunks, write_manifest

SCHEMA_ID = "dsr-orchestrator/access-report/1"
SCHEMA_PATH = Path(__file__).with_name("report_schema.json")


@dataclass(frozen=True)
class PackageResult:
    """Where the package went and what it holds.

    Attributes:
        path: the package directory.
        zip_path: the zip of that directory.
        manifest_sha256: sha256 of manifest.json: the package hash to record on the request.
        counts: items, sessions, locations searched / not searched, redactions, per category.
        pdf: `written`, `skipped: ...` or `failed: ...`.
        pdf_form: what the PDF holds, as report.json's `pdf_form` says it (None when no PDF was written).
    """

    path: Path
    zip_path: Path
    manifest_sha256: str
    counts: dict[str, object]
    pdf: str = "skipped: not requested"
    pdf_form: str | None = None


@dataclass(frozen=True, slots=True)  # one per item: tens of thousands per package
class ItemFiles:
    """Where one item's copy went inside the package (paths relative to the package root): the items of one
    conversation or file share its `data_file` string, and those without images share the empty tuple."""

    data_file: str
    images: tuple[str, ...] = ()


def article15(inp: PackageInput) -> dict[str, object]:
    """The Art. 15(1)(a)-(h) and 15(2) answers, tailored to the categories found.

    Every answer comes from the register; one it does not set reads "being completed, by <date>" (the
    package is issued so only with an incomplete register allowed), never a default stated as fact.
    """
    answers = found_categories(inp)
    counts = inp.item_counts.categories
    authority = inp.controller.authority
    pending = pending_text(inp)
    register = inp.register
    per_cat_transfers = [
        {"category": a.code, "title": a.entry.title, "transfers": a.entry.transfers}
        for a in answers
        if a.entry.transfers
    ]
    processors = [
        {"name": p.name, "role": p.role, "country": p.country, "safeguard": p.safeguard}
        for p in register.processors or []
    ]
    return {
        "a_purposes": [
            {
                "category": a.code,
                "title": a.entry.title,
                "purposes": list(a.entry.purposes) if a.entry.purposes is not None else [pending],
                "legal_basis": a.entry.legal_basis if a.entry.legal_basis is not None else pending,
            }
            for a in answers
        ],
        "b_categories": [
            {"code": a.code, "title": a.entry.title, "items": counts[a.code], "in_register": a.known} for a in answers
        ],
        "c_recipients": [
            {
                "category": a.code,
                "title": a.entry.title,
                "recipients": list(a.entry.recipients) if a.entry.recipients is not None else [pending],
            }
            for a in answers
        ],
        "d_retention": [
            {"category": a.code, "title": a.entry.title, "retention": a.entry.retention or pending} for a in answers
        ],
        "e_rights": rights_text(inp.controller),
        "f_complaint": {
            "authority": authority.name,
            "contact": authority.contact,
            "text": f"You have the right to complain to {authority.name} ({authority.contact}).",
        },
        "g_source": [
            {"category": a.code, "title": a.entry.title, "source": a.entry.source or pending} for a in answers
        ],
        "h_automated_decisions": register.automated_decisions or pending,
        "art15_2_transfers": {
            "general": register.transfers or pending,
            "per_category": per_cat_transfers,
            "processors": processors if register.processors is not None else pending,
        },
    }


def scope(inp: PackageInput) -> dict[str, object]:
    """Where we looked and where we did not, in plain words (the report's scope section, machine-readable)."""
    searched = [
        {"name": s.name, "type": s.type, "result": status_text(s.status)}
        for s in inp.searched
        if s.type in ("endpoint", "store")
    ]
    return {"systems": searched, "not_searched": [{"what": w, "why": y} for w, y in not_searched(inp)]}


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _json_safe(value: object) -> object:
    """The record as JSON (anything JSON cannot hold becomes its string form)."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


#: Lines of data files buffered (characters) before they are appended to their files.
DATA_BUFFER_CHARS = 1 << 22


def write_data_files(root: Path, items: Iterable[PackageItem]) -> list[ItemFiles]:
    """Write `data/<location>/<session or file>.jsonl` and the subject's images; one `ItemFiles` per item (read
    once, in the order given).

    Location and session names come from laptops and may be hostile: every path component is made safe and
    unique (`NameBook`), so nothing is written outside `root/data`. Lines are appended to their files a few
    MiB at a time (a file's lines in item order), never collected for the whole copy.
    """
    data = root / "data"
    locations = NameBook()
    groups: dict[str, NameBook] = {}
    lines: dict[Path, list[str]] = {}
    buffered = 0
    image_counter: Counter[Path] = Counter()
    shared: dict[Path, ItemFiles] = {}  # one `ItemFiles` per data file for the items without images
    out: list[ItemFiles] = []
    for item in items:
        loc_dir = locations.name(location_name(item), "location")
        book = groups.setdefault(loc_dir, NameBook())
        base = book.name(group_key(item), "session")
        jsonl = data / loc_dir / f"{base}.jsonl"
        line = json.dumps(_data_line(item), ensure_ascii=False)
        lines.setdefault(jsonl, []).append(line)
        buffered += len(line)
        if buffered > DATA_BUFFER_CHARS:
            _append_lines(lines)
            buffered = 0
        files = shared.get(jsonl)
        if files is None:
            files = shared[jsonl] = ItemFiles(jsonl.relative_to(root).as_posix())
        images = []
        for media_type, blob in item.image_blocks:
            folder = data / loc_dir / f"{base}.images"
            image_counter[folder] += 1
            target = folder / f"{image_counter[folder]:04d}.{image_extension(media_type)}"
            folder.mkdir(parents=True, exist_ok=True)
            target.write_bytes(blob)
            images.append(target.relative_to(root).as_posix())
        out.append(ItemFiles(files.data_file, tuple(images)) if images else files)
    _append_lines(lines)
    return out


def _data_line(item: PackageItem) -> dict[str, object]:
    """One line of a data file: where and when, and the decoded record (or the text line)."""
    entry: dict[str, object] = {
        "location": _json_safe(item.location),
        "kind": item.kind,
        "timestamp": _iso(item.timestamp),
        "categories": list(item.categories),
        "reason": item.reason,
    }
    record = item.decoded()
    if record is not None:
        entry["record"] = _json_safe(record)
    else:
        entry["text"] = item.content
    return entry


def _append_lines(lines: dict[Path, list[str]]) -> None:
    """Append the buffered lines to their files (each line ends with a newline) and empty the buffer."""
    for path, content in lines.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write("\n".join(content) + "\n")
    lines.clear()


def pdf_copy(inp: PackageInput, pdf_max_items: int) -> CopyDetail:
    """What report.pdf shows of the copy: every record when they are at most `pdf_max_items`, else each
    conversation with its count when those are at most that many, else only the counts per laptop."""
    if len(inp.items) <= pdf_max_items:
        return "records"
    if _conversations(inp) <= pdf_max_items:
        return "conversations"
    return "systems"


def pdf_form(inp: PackageInput, pdf_max_items: int) -> str:
    """What report.pdf holds, in words for report.json's `pdf_form`."""
    copy = pdf_copy(inp, pdf_max_items)
    items, conversations = len(inp.items), _conversations(inp)
    if copy == "records":
        return "full: every section and every record of the copy"
    if copy == "conversations":
        return (
            f"summary: every section and each of the {conversations} conversations and files with its count, but "
            f"not the {items} records themselves (over the pdf_max_items limit of {pdf_max_items}); report.html and "
            "data/ hold them all"
        )
    return (
        f"summary: every section and the counts per laptop or store, but neither the {items} records nor the list "
        f"of the {conversations} conversations and files (each over the pdf_max_items limit of {pdf_max_items}); "
        "report.html and data/ hold them all"
    )


def _conversations(inp: PackageInput) -> int:
    """How many conversations and files the copy's records are in (as section 5 groups them)."""
    return sum(len(sessions) for apps in inp.item_counts.groups.values() for sessions in apps.values())


def report_document(inp: PackageInput, files: list[ItemFiles], pdf: str, form: str | None = None) -> dict[str, object]:
    """The report.json document (see reports/report_schema.json)."""
    return {**report_head(inp, pdf, form), "items": list(report_items(inp, files))}


def report_items(inp: PackageInput, files: list[ItemFiles]) -> Iterator[dict[str, object]]:
    """report.json's `items`, one at a time."""
    for item, where in zip(inp.items, files, strict=True):
        yield {
            "location": _json_safe(item.location),
            "kind": item.kind,
            "app": item.app,
            "session_id": item.session_id,
            "timestamp": _iso(item.timestamp),
            "categories": list(item.categories),
            "content": item.content,
            "reason": item.reason,
            "redactions": dict(item.redactions),
            "context": list(item.context),
            "data_file": where.data_file,
            "images": list(where.images),
        }


def report_head(inp: PackageInput, pdf: str, form: str | None = None) -> dict[str, object]:
    """The report.json document with `items` empty (and in its place: `write_report_json` streams them)."""
    counted = inp.item_counts
    totals = counted.redactions
    return {
        "schema": SCHEMA_ID,
        "request_id": inp.request_id,
        "kind": inp.kind,
        "generated_at": _iso(inp.generated_at),
        "received_at": _iso(inp.received_at),
        "due": _iso(inp.due),
        "identity": inp.identity.as_json() if inp.identity else None,
        "controller": {
            "name": inp.controller.name,
            "contact": inp.controller.contact,
            "dpo_contact": inp.controller.dpo_contact,
        },
        "confirmation": bool(inp.items),
        "gaps_note": inp.gaps_note,
        "summary": {
            "items": len(inp.items),
            "by_location": dict(counted.by_location.most_common()),
            "by_category": dict(counted.categories.most_common()),
            "by_kind": dict(counted.by_kind.most_common()),
        },
        "items": [],
        "searched": [
            {
                "name": s.name,
                "type": s.type,
                "status": s.status,
                "reason": s.reason,
                "since": _iso(s.since),
                "attempts": s.attempts,
                "artifacts": s.artifacts,
                "findings": s.findings,
                "result": status_text(s.status),
            }
            for s in inp.searched
        ],
        "redactions": {
            "count": sum(totals.values()),
            "reasons": dict(sorted(totals.items())),
            "explained": [{"what": explain_reason(code), "count": n} for code, n in sorted(totals.items())],
        },
        "scope": scope(inp),
        "article15": article15(inp),
        "being_completed": (
            {"points": points_being_completed(inp), "by": _iso(inp.register.complete_by or inp.due)}
            if inp.register_missing
            else None
        ),
        "pdf": "included" if pdf == "written" else "not included",
        "pdf_form": form if pdf == "written" else None,
    }


def write_report_json(path: Path, inp: PackageInput, files: list[ItemFiles], pdf: str, form: str | None) -> None:
    """Write report.json as `write_json` writes `report_document` (the same bytes), the items one at a time."""
    head = json.dumps(report_head(inp, pdf, form), ensure_ascii=False, indent=2)
    before, found, after = head.partition(_EMPTY_ITEMS)  # the only key indented by 2 with an empty list
    if not found or _EMPTY_ITEMS in after:
        raise ValueError("report.json: the place of the items was not found")
    with path.open("w", encoding="utf-8") as fh:
        fh.write(before + '\n  "items": [')
        for n, entry in enumerate(report_items(inp, files)):
            fh.write(
                ("," if n else "") + "\n    " + json.dumps(entry, ensure_ascii=False, indent=2).replace("\n", "\n    ")
            )
        fh.write("\n  ]" if inp.items else "]")
        fh.write(after + "\n")


_EMPTY_ITEMS = '\n  "items": []'


def ordered_items(items: Sequence[PackageItem]) -> Sequence[PackageItem]:
    """Items by location, then chronologically (the order of report.json and the data files): a tuple or list
    sorted into a tuple, items kept out of memory as a view in that order (`in_package_order`)."""
    return in_package_order(items)


def _print_while(
    inp: PackageInput, root: Path, while_printing: Callable[[Path], None] | None, pdf_max_items: int
) -> str:
    """Print report.pdf (the browser waits in a thread, so `while_printing` runs meanwhile); its outcome."""
    # The PDF is printed from the same page with every conversation open (closed ones would not print); a copy
    # longer than `pdf_max_items` records is printed without them (thousands of pages take Chromium minutes), and
    # without the list of its conversations too when they are more than that.
    printable = root / ".print.html"
    copy = pdf_copy(inp, pdf_max_items)
    write_chunks(printable, iter_access_html(inp, expanded=True, copy=copy))
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pdf") as pool:
            job = pool.submit(print_pdf, printable, root / "report.pdf")
            try:
                if while_printing is not None:
                    while_printing(root)
            finally:
                status = job.result()
    finally:
        printable.unlink(missing_ok=True)
    return status


#: Writes the package's page (report.html); see `build_access_package`'s `page_writer`.
WritePage = Callable[[], None]


@dataclass(frozen=True)
class PageJob:
    """report.html being written for `build_access_package` by its caller's `page_writer`.

    Attributes:
        wait: returns once report.html is complete (the caller writes it again where a copy of its process
            failed).
        cancel: stops the writing (the package is abandoned): nothing writes into the package afterwards.
    """

    wait: Callable[[], None]
    cancel: Callable[[], None]


_NOTHING_TO_WAIT_FOR = PageJob(wait=lambda: None, cancel=lambda: None)


def _write_files(
    inp: PackageInput,
    root: Path,
    hooks: tuple[Callable[[Path, WritePage], PageJob] | None, Callable[[Path], None] | None],
    pdf: bool,
    pdf_max_items: int,
) -> tuple[str, str | None]:
    """report.html (by the page writer of `hooks`, or here first), the data files, report.pdf (`while_printing`
    of `hooks` runs as it prints) and report.json; the PDF's outcome and form, once the page is complete too.
    Where this fails, the page's writing is stopped before the package is removed."""
    page_writer, while_printing = hooks

    def write_page() -> None:
        write_chunks(root / "report.html", iter_access_html(inp))

    page = _NOTHING_TO_WAIT_FOR
    if page_writer is None:
        write_page()
    else:
        page = page_writer(root, write_page)
    try:
        files = write_data_files(root, inp.items)
        status = _print_while(inp, root, while_printing, pdf_max_items) if pdf else "skipped: not requested"
        if not pdf and while_printing is not None:
            while_printing(root)
        form = pdf_form(inp, pdf_max_items) if status == "written" else None
        write_report_json(root / "report.json", inp, files, status, form)
        page.wait()  # after report.json: it needs no page, and the page's copy may still be checking it
    except BaseException:
        page.cancel()
        raise
    return status, form


def build_access_package(
    inp: PackageInput,
    out_dir: Path,
    *,
    pdf: bool = True,
    page_writer: Callable[[Path, WritePage], PageJob] | None = None,
    while_printing: Callable[[Path], None] | None = None,
    while_zipping: Callable[[Path], None] | None = None,
    pdf_max_items: int = PDF_MAX_ITEMS,
) -> PackageResult:
    """Write the access package for one request.

    Args:
        inp: the request, register and redacted findings.
        out_dir: the packages directory; the package goes to `out_dir/<request_id>/` and `.zip`.
        pdf: print report.pdf when headless Chromium is installed (skipped silently otherwise).
        page_writer: called with the package directory and what writes report.html into it, before anything
            else is written (and before the browser is started: a process forked then holds none of its pipes);
            the caller writes the page (it may fork a copy that writes and checks it while the data files are
            written here) and returns a `PageJob`: waited for once report.json is written (before manifest.json),
            cancelled where the package fails before that. Without it the page is written here first. An
            exception from either aborts the package (nothing is left half-written).
        while_printing: called with the package directory once the data files are written, while the browser
            prints the PDF in its own process (without a PDF, at once; the caller checks the data files
            meanwhile); report.json and manifest.json are written after it returns. An exception from it aborts
            the package (nothing is left half-written).
        while_zipping: called with the package directory once every file is written, while a thread zips it
            (`atomic_package`; the caller checks the files written last meanwhile). An exception from it aborts
            the package (nothing is left half-written).
        pdf_max_items: a copy of more records than this is printed without them (`[access].pdf_max_items`):
            report.pdf then holds every section, each conversation with its count (only the counts per laptop
            when there are more conversations than this too), and says where the records are.

    Returns:
        Paths, the package hash (sha256 of manifest.json), counts and the PDF outcome.

    Raises:
        InputError: the request id cannot name a directory.
        OSError: the disk refused; nothing is left half-written.
    """

    ordered = replace(inp, items=ordered_items(inp.items))
    ordered.item_counts  # noqa: B018 - counted once, before a page writer's copy of this process would count again
    with atomic_package(out_dir, inp.request_id, inp.generated_at, while_zipping) as root:
        pdf_status, form = _write_files(ordered, root, (page_writer, while_printing), pdf, pdf_max_items)
        manifest_sha = write_manifest(
            root,
            {"package": "access", "request_id": inp.request_id, "generated_at": _iso(inp.generated_at)},
        )
    counted = ordered.item_counts
    searched = [s for s in ordered.searched if s.status in ("scanned", "scanned_with_gaps")]
    counts: dict[str, object] = {
        "items": len(ordered.items),
        "sessions": counted.sessions,
        "locations_searched": len(searched),
        "locations_not_searched": len(ordered.searched) - len(searched),
        "redactions": sum(counted.redactions.values()),
        "by_category": dict(counted.categories),
        "images": counted.images,
    }
    return PackageResult(
        path=out_dir / inp.request_id,
        zip_path=out_dir / f"{inp.request_id}.zip",
        manifest_sha256=manifest_sha,
        counts=counts,
        pdf=pdf_status,
        pdf_form=form,
    )
