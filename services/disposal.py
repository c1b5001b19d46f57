"""Proof of disposal: the certificate of one real purge run, built from that run's ledger entries.

Lists the policies and their versions, the as-of date, every disposed conversation once (per laptop or
store: its files' paths and hashes; for a conversation kept as rows of an agent's database, that database's
path, its hash before the deletion and how many rows went; never content), what was kept and why (legal
hold, open access request, unreachable location, not grouped with a conversation), and who approved the
plan. Written as JSON and HTML beside the erasure certificates.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from models.files import atomic_write
from models.settings import Settings
from proofs.entry import LedgerAction, LedgerEntry

FORMAT = "dsr-disposal-certificate/1"
_KEPT_WHY = {"legal_claims": "legal hold", "access_freeze": "open access request", "object_lock": "object lock"}


def certificate_dir(settings: Settings) -> Path:
    """Where disposal certificates are kept: beside the erasure certificates."""
    return settings.access.package_dir / "certificates"


def _conversation(entry: LedgerEntry) -> tuple[str, str]:
    rec = entry.record
    sid = rec.details.get("session_id")
    return (rec.location or "", str(sid) if isinstance(sid, str) else (rec.path or ""))


def build_disposal(
    entries: Iterable[LedgerEntry],
    *,
    run_id: str,
    as_of: datetime,
    policies: dict[str, str],
    digest: str | None,
) -> dict[str, Any]:
    """The certificate document of one run from its ledger entries (only entries of `run_id` count)."""
    disposed: dict[tuple[str, str], dict[str, Any]] = {}
    kept: list[dict[str, Any]] = []
    approved_by: str | None = None
    seqs: list[int] = []
    for entry in entries:
        rec = entry.record
        if rec.run_id != run_id:
            continue
        seqs.append(entry.seq)
        if rec.action is LedgerAction.APPROVE:
            approved_by = rec.actor
        elif rec.action is LedgerAction.PURGE:
            key = _conversation(entry)
            row = disposed.setdefault(
                key,
                {"location": key[0], "conversation": key[1], "policy": rec.details.get("policy"), "files": []},
            )
            files = rec.details.get("files")
            if isinstance(files, list) and files:
                row["files"].extend(files)
            else:
                row["files"].append({"path": rec.path, "sha256": rec.sha256_before})
        elif rec.action in (LedgerAction.EXCEPTION, LedgerAction.SKIP):
            ground = rec.exception_ground or str(rec.details.get("reason") or rec.outcome)
            kept.append(
                {
                    "location": rec.location,
                    "path": rec.path,
                    "why": _KEPT_WHY.get(ground, ground),
                    "hold_id": rec.details.get("hold_id"),
                    "conversation": rec.details.get("session_id"),
                }
            )
    return {
        "format": FORMAT,
        "run_id": run_id,
        "as_of": as_of.isoformat(),
        "policies": dict(sorted(policies.items())),
        "plan_digest": digest,
        "approved_by": approved_by or "no review required",
        "disposed": [disposed[k] for k in sorted(disposed)],
        "kept": sorted(kept, key=lambda k: (str(k["location"]), str(k["path"]))),
        "ledger_entries": [min(seqs), max(seqs)] if seqs else [],
    }


def _html(doc: dict[str, Any]) -> str:
    e = html.escape
    rows = []
    for conv in doc["disposed"]:
        files = "".join(
            f"<li><code>{e(str(f['path']))}</code> sha256 {e(str(f['sha256']))}"
            f"{' (' + e(str(f['rows'])) + ' rows deleted)' if f.get('rows') else ''}</li>"
            for f in conv["files"]
        )
        rows.append(
            f"<tr><td>{e(conv['location'])}</td><td>{e(conv['conversation'])}</td>"
            f"<td>{e(str(conv['policy']))}</td><td><ul>{files}</ul></td></tr>"
        )
    kept = "".join(
        f"<tr><td>{e(str(k['location']))}</td><td><code>{e(str(k['path']))}</code>"
        f"{' conversation ' + e(str(k['conversation'])) if k.get('conversation') else ''}</td><td>{e(str(k['why']))}"
        f"{' ' + e(str(k['hold_id'])) if k['hold_id'] else ''}</td></tr>"
        for k in doc["kept"]
    )
    policies = ", ".join(f"{e(n)} v{e(v)}" for n, v in doc["policies"].items()) or "none"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Certificate of disposal</title></head>'
        f"<body><h1>Certificate of disposal</h1><p>Run {e(doc['run_id'])}; ages measured as of {e(doc['as_of'])}; "
        f"policies {policies}; plan digest {e(str(doc['plan_digest']))}; approved by {e(doc['approved_by'])}.</p>"
        f"<h2>Disposed conversations ({len(doc['disposed'])})</h2><table><tr><th>Location</th><th>Conversation</th>"
        f"<th>Policy</th><th>Files (path, hash)</th></tr>{''.join(rows)}</table>"
        f"<h2>Kept ({len(doc['kept'])})</h2><table><tr><th>Location</th><th>Path</th><th>Why</th></tr>{kept}</table>"
        "<p>Built from the signed proof ledger; no content of any file is shown.</p></body></html>"
    )


def write_disposal(settings: Settings, doc: dict[str, Any]) -> tuple[Path, Path]:
    """Write the certificate as JSON and HTML (private files); returns (html path, json path)."""
    directory = certificate_dir(settings)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    stem = "disposal-" + re.sub(r"[^A-Za-z0-9._-]", "-", doc["run_id"])
    json_path, html_path = directory / f"{stem}.json", directory / f"{stem}.html"
    atomic_write(json_path, json.dumps(doc, indent=2, sort_keys=True).encode("utf-8"), mode=0o600)
    atomic_write(html_path, _html(doc).encode("utf-8"), mode=0o600)
    return html_path, json_path
