"""The Art. 15 access package: report.html, report.json, data/ copies, manifest.json, zip and optional PDF.

Owns the package's layout and the machine-readable report; takes finished, already redacted items (the
access flow redacted third parties, Art. 15(4)). Imports models only; must not scan, detect or redact.

Package layout (`out_dir/<request_id>/`, zipped to `out_dir/<request_id>.zip`, built in a temp directory
beside it and renamed, so a failure leaves nothing half-written):

    report.html      for the person: summary, Art. 15(1)(a)-(h) and 15(2), the copy, systems searched, timeline
    report.pdf       the same page printed by headless Chromium, only when it is installed
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
`art15_2_transfers`), `pdf` (written / skipped / failed).

A line of `data/...jsonl`: `{"location", "kind", "timestamp", "categories", "reason", "record"}` with the
decoded redacted record, or `"text"` instead of `"record"` when the item is a text line.

Art. 15 answers come from the processing register, tailored to the categories actually found: a category
that was not found is not listed. Detection's codes `contact_details` and `free_text_mentions` are read as the
register's `contact` and `free_text`; a code the register lacks gets a generic answer naming the controller's
contact, never an error.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path

from models.settings import ControllerSettings, RegisterCategory, RegisterSettings
from reports.packaging import NameBook, atomic_package, print_pdf, write_json, write_manifest

SCHEMA_ID = "dsr-orchestrator/access-report/1"
SCHEMA_PATH = Path(__file__).with_name("report_schema.json")

# Detection's category codes -> the register's usual codes (dsr.example.toml).
CATEGORY_ALIASES = {"contact_details": "contact", "free_text_mentions": "free_text"}

IMAGE_EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/jpg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
}

RIGHTS = (
    ("rectification", "Art. 16", "You can ask us to correct personal data about you that is wrong or incomplete."),
    ("erasure", "Art. 17", "You can ask us to erase personal data about you, for example when we no longer need it."),
    ("restriction", "Art. 18", "You can ask us to limit what we do with your data while a question is settled."),
    ("objection", "Art. 21", "You can object to processing based on our legitimate interests."),
    ("portability", "Art. 20", "You can ask for data you gave us in a machine-readable form."),
)


@dataclass(frozen=True)
class PackageItem:
    """One finding handed over by the access flow, already redacted (Art. 15(4)).

    Attributes:
        location: `{"endpoint": name, "path": str, "line": int|None}` or
            `{"store": name, "path": key, "line": int|None, "version_id": str|None}`.
        kind: artifact kind (`transcript`, `memory`, `prompt_history`, `session_record`, `s3_object`, ...).
        app: `cowork`, `claude-code`, `claude-desktop`, or None (stores).
        session_id: the session the item belongs to, if any.
        timestamp: when the record was written, if known (aware UTC).
        categories: Art. 15(1)(b) category codes found in it.
        content: the subject's record, redacted (JSON text of the record, or the text line).
        record: the decoded redacted JSON record, for intelligible rendering, else None.
        context: short redacted lines around it (previous/next message) needed to understand it.
        reason: `match` (names the person) or `owned_session` (the whole session is theirs).
        redactions: reason code -> count of third-party values replaced in this item.
        image_blocks: (media type, bytes) of images belonging to the subject.
    """

    location: dict[str, object]
    kind: str
    app: str | None
    session_id: str | None
    timestamp: datetime | None
    categories: tuple[str, ...]
    content: str
    record: object | None
    context: tuple[str, ...]
    reason: str
    redactions: dict[str, int]
    image_blocks: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class SearchedLocation:
    """One system the request covered, searched or not, with its honest status (Art. 15; rules 2.6).

    Attributes:
        name: endpoint, store, residual store or vendor name.
        type: `endpoint`, `store`, `residual` or `vendor`.
        status: `scanned`, `unreachable`, `busy`, `refused`, `failed`, `auth_failed`, `host_key_unknown`,
            `host_key_mismatch` or `not_searched`.
        reason: why it was not (fully) searched, in words without personal data.
        since: when it became unreachable (or was last tried).
        attempts: how many times it was tried.
        artifacts: artifacts examined.
        findings: items found there.
    """

    name: str
    type: str
    status: str
    reason: str | None
    since: datetime | None
    attempts: int
    artifacts: int
    findings: int


@dataclass(frozen=True)
class PackageInput:
    """Everything one package needs; built by the access flow.

    Attributes:
        request_id: the request's id (names the package directory).
        kind: `access` or `portability`.
        generated_at: when the package is produced (aware UTC).
        received_at: when the request was received.
        due: the legal deadline.
        controller: the controller's settings (name, contact, authority, DPO).
        register: the processing register (`Settings.processing_register`).
        items: the findings, redacted.
        searched: every location with its status.
        gaps_note: set when the package is issued with locations missing.
    """

    request_id: str
    kind: str
    generated_at: datetime
    received_at: datetime
    due: date
    controller: ControllerSettings
    register: RegisterSettings
    items: tuple[PackageItem, ...]
    searched: tuple[SearchedLocation, ...]
    gaps_note: str | None = None


@dataclass(frozen=True)
class PackageResult:
    """Where the package went and what it holds.

    Attributes:
        path: the package directory.
        zip_path: the zip of that directory.
        manifest_sha256: sha256 of manifest.json: the package hash to record on the request.
        counts: items, sessions, locations searched / not searched, redactions, per category.
        pdf: `written`, `skipped: ...` or `failed: ...`.
    """

    path: Path
    zip_path: Path
    manifest_sha256: str
    counts: dict[str, object]
    pdf: str = "skipped: not requested"


@dataclass(frozen=True)
class CategoryAnswer:
    """The register's answer for one category found, marked when it is the generic fallback."""

    code: str
    entry: RegisterCategory
    known: bool


@dataclass
class ItemFiles:
    """Where one item's copy went inside the package (paths relative to the package root)."""

    data_file: str
    images: list[str] = field(default_factory=list)


def location_name(item: PackageItem) -> str:
    """The endpoint or store name of an item (`unknown` when the location names neither)."""
    name = item.location.get("endpoint", item.location.get("store"))
    return str(name) if name is not None else "unknown"


def location_type(item: PackageItem) -> str:
    """`endpoint` or `store`."""
    return "store" if "store" in item.location else "endpoint"


def item_path(item: PackageItem) -> str:
    """The path of the item as its system sees it."""
    return str(item.location.get("path", ""))


def group_key(item: PackageItem) -> str:
    """The unit a copy is grouped by inside a location: the session, else the file."""
    return item.session_id or item_path(item) or "unsorted"


def sort_key(item: PackageItem) -> tuple[int, float, str, int]:
    """Chronological order; undated items last, then by path and line."""
    line = item.location.get("line")
    return (
        0 if item.timestamp else 1,
        item.timestamp.timestamp() if item.timestamp else 0.0,
        item_path(item),
        line if isinstance(line, int) else 0,
    )


def resolve_category(register: RegisterSettings, code: str, controller: ControllerSettings) -> CategoryAnswer:
    """The register entry for a category code, via the detection aliases, else a generic answer."""
    for candidate in (code, CATEGORY_ALIASES.get(code, code)):
        entry = register.categories.get(candidate)
        if entry is not None:
            return CategoryAnswer(code, entry, True)
    for register_code, alias in CATEGORY_ALIASES.items():
        if alias == code and register_code in register.categories:
            return CategoryAnswer(code, register.categories[register_code], True)
    ask = f"please ask us at {controller.contact} and we will tell you"
    generic = RegisterCategory(
        title=code.replace("_", " ").strip().capitalize() or "Other personal data",
        purposes=[f"The purposes for this category are not yet in our register: {ask}"],
        legal_basis=f"Not yet recorded in our register: {ask}",
        recipients=[],
        retention=f"Not yet recorded in our register: {ask}",
        source="As shown next to each item in the copy below",
        transfers=None,
    )
    return CategoryAnswer(code, generic, False)


def found_categories(inp: PackageInput) -> list[CategoryAnswer]:
    """The register answers for the categories actually found, most frequent first."""
    counts = category_counts(inp.items)
    return [resolve_category(inp.register, code, inp.controller) for code, _ in counts.most_common()]


def category_counts(items: Iterable[PackageItem]) -> Counter[str]:
    """Items per category code."""
    return Counter(code for item in items for code in dict.fromkeys(item.categories))


def redaction_totals(items: Iterable[PackageItem]) -> Counter[str]:
    """Redactions per reason code over all items."""
    total: Counter[str] = Counter()
    for item in items:
        total.update({code: n for code, n in item.redactions.items() if n > 0})
    return total


def rights_text(controller: ControllerSettings) -> list[dict[str, str]]:
    """Art. 15(1)(e): the rights the person has, each with its article."""
    out = [{"right": right, "article": art, "text": text} for right, art, text in RIGHTS]
    contact = controller.contact + (
        f"; our data protection officer: {controller.dpo_contact}" if controller.dpo_contact else ""
    )
    out.append({"right": "how", "article": "Art. 12", "text": f"To use any of these rights, contact {contact}."})
    return out


def article15(inp: PackageInput) -> dict[str, object]:
    """The Art. 15(1)(a)-(h) and 15(2) answers, tailored to the categories found."""
    answers = found_categories(inp)
    counts = category_counts(inp.items)
    authority = inp.controller.authority
    per_cat_transfers = [
        {"category": a.code, "title": a.entry.title, "transfers": a.entry.transfers}
        for a in answers
        if a.entry.transfers
    ]
    return {
        "a_purposes": [
            {
                "category": a.code,
                "title": a.entry.title,
                "purposes": list(a.entry.purposes),
                "legal_basis": a.entry.legal_basis,
            }
            for a in answers
        ],
        "b_categories": [
            {"code": a.code, "title": a.entry.title, "items": counts[a.code], "in_register": a.known} for a in answers
        ],
        "c_recipients": [
            {"category": a.code, "title": a.entry.title, "recipients": list(a.entry.recipients)} for a in answers
        ],
        "d_retention": [{"category": a.code, "title": a.entry.title, "retention": a.entry.retention} for a in answers],
        "e_rights": rights_text(inp.controller),
        "f_complaint": {
            "authority": authority.name,
            "contact": authority.contact,
            "text": f"You have the right to complain to {authority.name} ({authority.contact}).",
        },
        "g_source": [{"category": a.code, "title": a.entry.title, "source": a.entry.source} for a in answers],
        "h_automated_decisions": inp.register.automated_decisions,
        "art15_2_transfers": {"general": inp.register.transfers, "per_category": per_cat_transfers},
    }


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _json_safe(value: object) -> object:
    """The record as JSON (anything JSON cannot hold becomes its string form)."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def image_extension(media_type: str) -> str:
    """File extension for an image media type (`bin` for anything unexpected)."""
    return IMAGE_EXTENSIONS.get(media_type.lower().split(";")[0].strip(), "bin")


def image_data_uri(media_type: str, data: bytes) -> str | None:
    """A data: URI for a raster image the browser shows inertly; None for other types (SVG can carry script)."""
    kind = media_type.lower().split(";")[0].strip()
    if kind not in IMAGE_EXTENSIONS:
        return None
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def write_data_files(root: Path, items: tuple[PackageItem, ...]) -> list[ItemFiles]:
    """Write `data/<location>/<session or file>.jsonl` and the subject's images; one `ItemFiles` per item.

    Location and session names come from laptops and may be hostile: every path component is made safe and
    unique (`NameBook`), so nothing is written outside `root/data`.
    """
    data = root / "data"
    locations = NameBook()
    groups: dict[str, NameBook] = {}
    lines: dict[Path, list[str]] = {}
    image_counter: Counter[Path] = Counter()
    out: list[ItemFiles] = []
    for item in items:
        loc_dir = locations.name(location_name(item), "location")
        book = groups.setdefault(loc_dir, NameBook())
        base = book.name(group_key(item), "session")
        jsonl = data / loc_dir / f"{base}.jsonl"
        entry: dict[str, object] = {
            "location": _json_safe(item.location),
            "kind": item.kind,
            "timestamp": _iso(item.timestamp),
            "categories": list(item.categories),
            "reason": item.reason,
        }
        if item.record is not None:
            entry["record"] = _json_safe(item.record)
        else:
            entry["text"] = item.content
        lines.setdefault(jsonl, []).append(json.dumps(entry, ensure_ascii=False))
        files = ItemFiles(jsonl.relative_to(root).as_posix())
        for media_type, blob in item.image_blocks:
            folder = data / loc_dir / f"{base}.images"
            image_counter[folder] += 1
            target = folder / f"{image_counter[folder]:04d}.{image_extension(media_type)}"
            folder.mkdir(parents=True, exist_ok=True)
            target.write_bytes(blob)
            files.images.append(target.relative_to(root).as_posix())
        out.append(files)
    for path, content in lines.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(content) + "\n", encoding="utf-8")
    return out


def report_document(inp: PackageInput, files: list[ItemFiles], pdf: str) -> dict[str, object]:
    """The report.json document (see reports/report_schema.json)."""
    totals = redaction_totals(inp.items)
    by_location: Counter[str] = Counter(location_name(i) for i in inp.items)
    by_kind: Counter[str] = Counter(i.kind for i in inp.items)
    items = []
    for item, where in zip(inp.items, files, strict=True):
        items.append(
            {
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
        )
    return {
        "schema": SCHEMA_ID,
        "request_id": inp.request_id,
        "kind": inp.kind,
        "generated_at": _iso(inp.generated_at),
        "received_at": _iso(inp.received_at),
        "due": _iso(inp.due),
        "controller": {
            "name": inp.controller.name,
            "contact": inp.controller.contact,
            "dpo_contact": inp.controller.dpo_contact,
        },
        "confirmation": bool(inp.items),
        "gaps_note": inp.gaps_note,
        "summary": {
            "items": len(inp.items),
            "by_location": dict(by_location.most_common()),
            "by_category": dict(category_counts(inp.items).most_common()),
            "by_kind": dict(by_kind.most_common()),
        },
        "items": items,
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
            }
            for s in inp.searched
        ],
        "redactions": {"count": sum(totals.values()), "reasons": dict(sorted(totals.items()))},
        "article15": article15(inp),
        "pdf": pdf,
    }


def ordered_items(items: tuple[PackageItem, ...]) -> tuple[PackageItem, ...]:
    """Items by location, then chronologically (the order of report.json and the data files)."""
    return tuple(sorted(items, key=lambda i: (location_type(i), location_name(i), *sort_key(i))))


def build_access_package(inp: PackageInput, out_dir: Path, *, pdf: bool = True) -> PackageResult:
    """Write the access package for one request.

    Args:
        inp: the request, register and redacted findings.
        out_dir: the packages directory; the package goes to `out_dir/<request_id>/` and `.zip`.
        pdf: print report.pdf when headless Chromium is installed (skipped silently otherwise).

    Returns:
        Paths, the package hash (sha256 of manifest.json), counts and the PDF outcome.

    Raises:
        InputError: the request id cannot name a directory.
        OSError: the disk refused; nothing is left half-written.
    """
    from reports.access_html import render_access_html  # noqa: PLC0415 - access_html imports this module

    ordered = replace(inp, items=ordered_items(inp.items))
    with atomic_package(out_dir, inp.request_id, inp.generated_at) as root:
        files = write_data_files(root, ordered.items)
        html_path = root / "report.html"
        html_path.write_text(render_access_html(ordered), encoding="utf-8")
        pdf_status = print_pdf(html_path, root / "report.pdf") if pdf else "skipped: not requested"
        document = report_document(ordered, files, pdf_status)
        write_json(root / "report.json", document)
        manifest_sha = write_manifest(
            root,
            {"package": "access", "request_id": inp.request_id, "generated_at": _iso(inp.generated_at)},
        )
    totals = redaction_totals(ordered.items)
    searched = [s for s in ordered.searched if s.status == "scanned"]
    counts: dict[str, object] = {
        "items": len(ordered.items),
        "sessions": len({(location_name(i), group_key(i)) for i in ordered.items}),
        "locations_searched": len(searched),
        "locations_not_searched": len(ordered.searched) - len(searched),
        "redactions": sum(totals.values()),
        "by_category": dict(category_counts(ordered.items)),
        "images": sum(len(i.image_blocks) for i in ordered.items),
    }
    return PackageResult(
        path=out_dir / inp.request_id,
        zip_path=out_dir / f"{inp.request_id}.zip",
        manifest_sha256=manifest_sha,
        counts=counts,
        pdf=pdf_status,
    )
