"""What an access package is built from: the request, the redacted items and the systems searched, and the
helpers the package (`reports.access_package`) and its page (`reports.access_html`) share.

Imports models only; writes nothing.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from models.identity import IdentityRecord
from models.settings import ControllerSettings, RegisterCategory, RegisterSettings

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
        app: the agent (`cowork`, `claude-code`, `claude-desktop`, `codex`, `gemini-cli`, `cursor`, ...), or
            None (stores).
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
        identity: how the requester's identity was established (method and outcome, never the evidence).
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
    identity: IdentityRecord | None = None


@dataclass(frozen=True)
class CategoryAnswer:
    """The register's answer for one category found, marked when it is the generic fallback."""

    code: str
    entry: RegisterCategory
    known: bool


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


def image_extension(media_type: str) -> str:
    """File extension for an image media type (`bin` for anything unexpected)."""
    return IMAGE_EXTENSIONS.get(media_type.lower().split(";")[0].strip(), "bin")


def image_data_uri(media_type: str, data: bytes) -> str | None:
    """A data: URI for a raster image the browser shows inertly; None for other types (SVG can carry script)."""
    kind = media_type.lower().split(";")[0].strip()
    if kind not in IMAGE_EXTENSIONS:
        return None
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"
