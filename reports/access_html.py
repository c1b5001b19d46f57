"""The person-facing report.html of an access package: plain language, offline, printable, no script.

Owns the page's wording, layout, CSS, the intelligible rendering of agent records and the SVG timeline.
Every value from a laptop or a store is escaped (`html.escape`); the page loads nothing from outside.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from html import escape
from itertools import chain
from typing import Literal
from zoneinfo import ZoneInfo

from connectors.agents import agent_title, claude
from reports.access_input import (
    PLACEHOLDER,
    PLACEHOLDER_MEANING,
    STATUS_TEXT,
    CategoryAnswer,
    CopySession,
    PackageInput,
    PackageItem,
    SearchedLocation,
    explain_reason,
    found_categories,
    image_data_uri,
    item_path,
    not_searched,
    pending_text,
    plain_reason,
    points_being_completed,
    rights_text,
    sort_key,
    status_text,
)

__all__ = [
    "CSS",
    "STATUS_TEXT",
    "TYPE_TEXT",
    "CopyDetail",
    "esc",
    "fmt_time",
    "iter_access_html",
    "render_access_html",
]

TOOL_RESULT_CHARS = 400
THINKING_CHARS = 300
FALLBACK_CHARS = 20_000
FIELD_CHARS = 2_000
#: A copy with at most this many records is shown open; a longer one opens conversation by conversation.
EXPAND_UP_TO = 200
#: What section 5 shows: every record (report.html, and report.pdf of a short copy), or, when the copy is too long
#: to print, each conversation with its count, or only the counts per laptop and application.
CopyDetail = Literal["records", "conversations", "systems"]
#: In the timeline of such a PDF one dot stands for the records this close (in pixels of the drawing) on its row.
MERGE_PX = 3

TYPE_TEXT = {
    "endpoint": "Laptop",
    "store": "Central store",
    "residual": "Residual store",
    "vendor": "Copy held by a service provider",
}
APP_TEXT = claude.APP_TITLES
"""How the Claude apps are named; every agent's name comes from `connectors.agents.agent_title`."""
KIND_TEXT = {
    "transcript": "Conversation",
    "subagent": "Sub-agent conversation",
    "tool_result": "Tool output",
    "audit_log": "Audit log of a conversation",
    "session_record": "Session record",
    "code_session_record": "Session record",
    "memory": "Memory note kept by the assistant",
    "project_memory": "Project memory note",
    "prompt_history": "History of typed prompts",
    "paste_cache": "Pasted text",
    "file_history": "Earlier version of a file",
    "upload": "Uploaded file",
    "output": "File produced by the assistant",
    "user_output": "File produced by the assistant",
    "plan": "Plan",
    "todo": "To-do list",
    "task": "Task",
    "org_file": "Organisation settings",
    "claude_json": "App settings",
    "log": "Log file",
    "s3_object": "Stored object",
}
SESSION_FIELDS = {
    "title": "Title",
    "initialMessage": "First message",
    "promptSuggestion": "Suggested prompt",
    "accountName": "Account name",
    "emailAddress": "E-mail address",
    "cwd": "Working folder",
    "originCwd": "Original folder",
    "userSelectedFolders": "Folders selected",
    "recap": "Recap",
    "postTurnSummary": "Summary",
    "previousTitles": "Earlier titles",
    "error": "Error",
    "summary": "Summary",
    "lastPrompt": "Last prompt",
    "customTitle": "Title",
    "aiTitle": "Title",
}
TYPE_COLOURS = {"endpoint": "#1f5fa8", "store": "#2e7d4f", "residual": "#8a5a00", "vendor": "#7a3e9d"}

CSS = """
:root { --ink:#1d2330; --muted:#5b6474; --line:#d9dee7; --accent:#1f5fa8; --soft:#f3f6fa; --warn:#fff4e0;
        --warnline:#e0a43a; --ok:#e8f5ec; --okline:#2e7d4f; }
* { box-sizing: border-box; }
html { font-size: 15px; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.5;
       font-family: "Segoe UI", "Helvetica Neue", Arial, "Liberation Sans", sans-serif; }
main { max-width: 60rem; margin: 0 auto; padding: 0 1.5rem 3rem; }
header.cover { background: var(--accent); color: #fff; padding: 2rem 0 1.5rem; margin-bottom: 1.5rem; }
header.cover .inner { max-width: 60rem; margin: 0 auto; padding: 0 1.5rem; }
header.cover h1 { margin: .2rem 0 1rem; font-size: 1.9rem; font-weight: 600; }
header.cover .controller { text-transform: uppercase; letter-spacing: .08em; font-size: .8rem; opacity: .85; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1.2rem; margin: 0; }
dl.meta dt { opacity: .8; } dl.meta dd { margin: 0; font-weight: 600; }
h2 { font-size: 1.45rem; border-bottom: 2px solid var(--accent); padding-bottom: .25rem; margin: 2.2rem 0 1rem; }
h3 { font-size: 1.12rem; margin: 1.6rem 0 .5rem; }
h4 { font-size: 1rem; margin: 1.2rem 0 .4rem; color: var(--accent); }
p.lead { font-size: 1.05rem; }
nav.toc { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: .8rem 1.2rem; }
nav.toc ol { margin: .3rem 0; padding-left: 0; list-style: none; }
nav.toc a { color: var(--accent); text-decoration: none; }
.box { border-left: 5px solid var(--accent); background: var(--soft); padding: .8rem 1rem; border-radius: 4px;
       margin: 1rem 0; }
.box.yes { border-color: var(--okline); background: var(--ok); }
.box.no { border-color: var(--muted); }
.box.warn { border-color: var(--warnline); background: var(--warn); }
.box strong.big { font-size: 1.15rem; display: block; margin-bottom: .2rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; font-size: .93rem; table-layout: auto; }
th, td { text-align: left; vertical-align: top; padding: .4rem .55rem; border-bottom: 1px solid var(--line);
         overflow-wrap: anywhere; }
th { background: var(--soft); font-weight: 600; }
td:first-child { min-width: 8rem; overflow-wrap: anywhere; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.sessions { font-size: .82rem; } table.sessions td, table.sessions th { padding: .15rem .45rem; }
table.sessions th.num { white-space: nowrap; } table.sessions td:nth-child(2) { width: 13rem; }
.chip { display: inline-block; background: #e6eef8; color: #17457a; border-radius: 999px; padding: 0 .55rem;
        font-size: .8rem; margin: 0 .2rem .2rem 0; white-space: nowrap; }
.chip.reason { background: #eee; color: #444; }
.status-ok { color: var(--okline); font-weight: 600; } .status-gap { color: #a0501a; font-weight: 600; }
.location { margin-top: 1.8rem; }
.location > h3 { background: var(--soft); padding: .45rem .7rem; border-radius: 4px; }
.session { border: 1px solid var(--line); border-radius: 6px; margin: .9rem 0 1.2rem; }
.session > summary { background: #fafbfc; border-bottom: 1px solid var(--line); padding: .45rem .8rem;
                     font-size: .88rem; color: var(--muted); cursor: pointer; overflow-wrap: anywhere; }
.session > summary b { color: var(--ink); }
details.location > summary { cursor: pointer; list-style: none; }
details.location > summary::-webkit-details-marker { display: none; }
details.location > summary h3::before { content: "▸ "; color: var(--accent); }
details.location[open] > summary h3::before { content: "▾ "; }
details.location > summary h3 { display: block; }
details.fold > summary { cursor: pointer; color: var(--accent); margin: .3rem 0; }
.count { font-weight: 400; color: var(--muted); font-size: .9rem; }
.pending { font-style: italic; color: #8a4b00; }
ul.scope li { margin: .3rem 0; }
.item { padding: .6rem .8rem; border-bottom: 1px dashed var(--line); break-inside: avoid; }
.item:last-child { border-bottom: 0; }
.item .where { font-size: .8rem; color: var(--muted); margin-bottom: .3rem; word-break: break-all; }
.msg { margin: .25rem 0; display: flex; gap: .8rem; align-items: baseline; }
.msg .who { flex: 0 0 8.5rem; font-weight: 600; font-size: .85rem; color: var(--muted); }
.msg .text { flex: 1 1 auto; min-width: 0; }
.msg.user .who { color: #17457a; } .msg.assistant .who { color: #2e6b45; } .msg.tool .who { color: #7a5a00; }
.msg .text { white-space: pre-wrap; overflow-wrap: anywhere; }
.msg.tool .text, pre { font-family: "DejaVu Sans Mono", Consolas, monospace; font-size: .82rem; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: var(--soft); padding: .5rem; border-radius: 4px;
      margin: .3rem 0; }
.context { border-left: 3px solid var(--line); padding-left: .6rem; color: var(--muted); font-size: .85rem;
           margin: .3rem 0 .4rem; }
.context .label { font-size: .75rem; text-transform: uppercase; letter-spacing: .05em; }
.context div { white-space: pre-wrap; overflow-wrap: anywhere; }
mark.redaction { background: #ffe2a8; color: #5a3b00; border-radius: 3px; padding: 0 .15rem; font-weight: 600; }
.note { font-size: .82rem; color: var(--muted); }
img.subject-image { max-width: 100%; max-height: 22rem; border: 1px solid var(--line); border-radius: 4px;
                    margin: .4rem 0 .4rem 9.3rem; display: block; }
dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; margin: .2rem 0; }
dl.fields dt { color: var(--muted); font-size: .85rem; } dl.fields dd { margin: 0; white-space: pre-wrap;
              overflow-wrap: anywhere; }
svg.timeline { width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
footer.end { margin-top: 3rem; font-size: .82rem; color: var(--muted); border-top: 1px solid var(--line);
             padding-top: .8rem; }
@media print {
  html { font-size: 11pt; }
  header.cover { background: #fff; color: var(--ink); border-bottom: 3px solid var(--accent); padding-top: 0; }
  nav.toc { break-after: page; }
  section.major { break-before: page; }
  section.major:first-of-type, section#timeline { break-before: auto; }
  .item, svg.timeline, .box { break-inside: avoid; }
  details > summary::-webkit-details-marker { display: none; }
  h2, h3, h4 { break-after: avoid; }
  a { color: inherit; text-decoration: none; }
  @page { margin: 16mm 14mm; }
}
"""


def esc(value: object) -> str:
    """HTML-escape any value (quotes too)."""
    return escape("" if value is None else str(value), quote=True)


def mark_redactions(text: str) -> str:
    """Escape `text` and highlight the Art. 15(4) placeholders in it, each with its meaning as a tooltip."""

    def _mark(match: re.Match[str]) -> str:
        meaning = PLACEHOLDER_MEANING.get(match.group(1) or "data", PLACEHOLDER_MEANING["data"])
        return f'<mark class="redaction" title="{esc(meaning)} (Art. 15(4))">{match.group(0)}</mark>'

    return PLACEHOLDER.sub(_mark, esc(text))


def placeholders_in(texts: Iterable[str]) -> list[str]:
    """The distinct placeholders used in some texts, in order of appearance."""
    seen: dict[str, None] = {}
    for text in texts:
        for match in PLACEHOLDER.finditer(text):
            seen.setdefault(match.group(0))
    return list(seen)


def explain_placeholder(marker: str) -> str:
    """`[email 1] replaces another person's e-mail address (Art. 15(4))`."""
    match = PLACEHOLDER.fullmatch(marker)
    label = match.group(1) if match and match.group(1) else "data"
    return f"{marker} replaces {PLACEHOLDER_MEANING.get(label, PLACEHOLDER_MEANING['data'])} (Art. 15(4))"


def abbreviate(text: str, limit: int) -> str:
    """At most `limit` characters, with a note of how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters in the data files]"


def fmt_time(value: datetime | None, tz: ZoneInfo) -> str:
    """`29 Nov 2026, 09:40 UTC` in the controller's timezone."""
    if value is None:
        return "time unknown"
    local = value.astimezone(tz) if value.tzinfo else value
    return f"{local.day} {local:%b %Y, %H:%M} {local.tzname() or ''}".strip()


def _msg(css: str, who: str, body_html: str) -> str:
    return f'<div class="msg {css}"><span class="who">{esc(who)}</span><span class="text">{body_html}</span></div>'


def _block_text(value: object) -> str:
    """Text of a tool_result content (string or blocks)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for block in value:
            if isinstance(block, dict) and isinstance(block.get("text"), str):
                parts.append(block["text"])
            elif isinstance(block, dict) and block.get("type") == "image":
                parts.append("[image]")
        return "\n".join(parts)
    return json.dumps(value, ensure_ascii=False, default=str)


def _tool_use(block: dict[str, object]) -> str:
    name = str(block.get("name") or "a tool")
    tool_input = block.get("input")
    if isinstance(tool_input, dict):
        command = tool_input.get("command")
        if isinstance(command, str):
            return f"ran command: {command}"
        path = tool_input.get("file_path") or tool_input.get("path")
        if isinstance(path, str):
            return f"used {name} on {path}"
    detail = json.dumps(tool_input, ensure_ascii=False, default=str) if tool_input is not None else ""
    return f"used tool {name}: {abbreviate(detail, TOOL_RESULT_CHARS)}".rstrip(": ")


def render_blocks(role: str, content: object) -> list[str]:
    """Render a message's content (a string or Anthropic content blocks) as labelled lines."""
    who = "AI assistant" if role == "assistant" else "User"
    css = "assistant" if role == "assistant" else "user"
    if isinstance(content, str):
        return [_msg(css, who, mark_redactions(content))]
    if not isinstance(content, list):
        return [_msg(css, who, mark_redactions(json.dumps(content, ensure_ascii=False, default=str)))]
    out = []
    for block in content:
        if not isinstance(block, dict):
            out.append(_msg(css, who, mark_redactions(str(block))))
            continue
        kind = block.get("type")
        if kind == "text":
            out.append(_msg(css, who, mark_redactions(str(block.get("text", "")))))
        elif kind == "thinking":
            text = abbreviate(str(block.get("thinking", "")), THINKING_CHARS)
            out.append(_msg("assistant", "Assistant's reasoning", mark_redactions(text)))
        elif kind == "tool_use":
            out.append(_msg("tool", "AI assistant", mark_redactions(_tool_use(block))))
        elif kind == "tool_result":
            text = abbreviate(_block_text(block.get("content")), TOOL_RESULT_CHARS)
            out.append(_msg("tool", "Tool result", mark_redactions(text)))
        elif kind == "image":
            out.append(_msg(css, who, "<em>sent an image (shown below if it belongs to you)</em>"))
        else:
            text = abbreviate(json.dumps(block, ensure_ascii=False, default=str), TOOL_RESULT_CHARS)
            out.append(_msg(css, who, mark_redactions(text)))
    return out


def _fields(record: dict[str, object]) -> str:
    rows = []
    for key, label in SESSION_FIELDS.items():
        value = record.get(key)
        if value in (None, "", [], {}):
            continue
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        rows.append(f"<dt>{esc(label)}</dt><dd>{mark_redactions(abbreviate(text, FIELD_CHARS))}</dd>")
    if not rows:
        for key, value in list(record.items())[:25]:
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                rows.append(f"<dt>{esc(key)}</dt><dd>{mark_redactions(abbreviate(str(value), FIELD_CHARS))}</dd>")
    return f'<dl class="fields">{"".join(rows)}</dl>' if rows else ""


def render_record(item: PackageItem) -> str:
    """An intelligible rendering of one item: messages with roles, tool calls, typed prompts, record fields."""
    record = item.decoded()
    if isinstance(record, dict):
        kind = record.get("type")
        message = record.get("message")
        if kind in ("user", "assistant") and isinstance(message, dict):
            role = str(message.get("role") or kind)
            return "".join(render_blocks(role, message.get("content")))
        if isinstance(record.get("display"), str):
            parts = [_msg("user", "Prompt typed", mark_redactions(str(record["display"])))]
            pasted = record.get("pastedContents")
            if isinstance(pasted, dict):
                for value in pasted.values():
                    text = value.get("content") if isinstance(value, dict) else value
                    if isinstance(text, str) and text:
                        parts.append(_msg("user", "Pasted text", mark_redactions(abbreviate(text, FIELD_CHARS))))
            return "".join(parts)
        if kind == "system" and isinstance(record.get("content"), str):
            return _msg("tool", "App note", mark_redactions(str(record["content"])))
        if kind == "queue-operation" and isinstance(record.get("content"), str):
            return _msg("user", "Queued prompt", mark_redactions(str(record["content"])))
        fields = _fields(record)
        if fields:
            return fields
    if isinstance(record, list | dict):
        text = json.dumps(record, ensure_ascii=False, indent=1, default=str)
        return f"<pre>{mark_redactions(abbreviate(text, FALLBACK_CHARS))}</pre>"
    return f"<pre>{mark_redactions(abbreviate(item.content, FALLBACK_CHARS))}</pre>"


def _where(item: PackageItem, tz: ZoneInfo, show_path: bool, titles: dict[str, str] | None = None) -> str:
    line = item.location.get("line")
    version = item.location.get("version_id")
    where = item_path(item) if show_path else ""
    if isinstance(line, int):
        where += f", line {line}" if where else f"line {line}"
    where = where or "whole file"
    where += f", version {version}" if version else ""
    names = titles or {}
    chips = "".join(
        f'<span class="chip">{esc(names.get(c, c.replace("_", " ").capitalize()))}</span>' for c in item.categories
    )
    reason = "whole session is yours" if item.reason == "owned_session" else "mentions you"
    return (
        f'<div class="where"><b>{esc(fmt_time(item.timestamp, tz))}</b> · {esc(KIND_TEXT.get(item.kind, item.kind))}'
        f' · {esc(where)}<br>{chips}<span class="chip reason">{esc(reason)}</span></div>'
    )


def render_item(item: PackageItem, tz: ZoneInfo, show_path: bool = True, titles: dict[str, str] | None = None) -> str:
    """One item: where and when, the context lines, the record, the subject's images, its redaction notes.

    `show_path` is False when the session header already names the item's only file.
    """
    parts = [f'<div class="item">{_where(item, tz, show_path, titles)}']
    if item.context:
        lines = "".join(f"<div>{mark_redactions(abbreviate(c, FIELD_CHARS))}</div>" for c in item.context)
        parts.append(f'<div class="context"><span class="label">Conversation context</span>{lines}</div>')
    parts.append(render_record(item))
    for media_type, blob in item.image_blocks:
        uri = image_data_uri(media_type, blob)
        if uri:
            parts.append(f'<img class="subject-image" alt="Image belonging to you" src="{esc(uri)}">')
        else:
            parts.append(f'<p class="note">A file of type {esc(media_type)} is included in the data folder.</p>')
    markers = placeholders_in([item.content, *item.context])
    if markers:
        parts.append(f'<p class="note">{esc("; ".join(explain_placeholder(m) for m in markers))}.</p>')
    parts.append("</div>")
    return "".join(parts)


def _in_order(inp: PackageInput, positions: Sequence[int], in_order: bool) -> Iterator[PackageItem]:
    """The items at `positions`, read one at a time in `sort_key` order (sorted first when they were not met
    in that order)."""
    items = inp.items
    if not in_order:
        positions = sorted(positions, key=lambda n: sort_key(items[n]))
    for n in positions:
        yield items[n]


def render_copy(inp: PackageInput, tz: ZoneInfo, *, expanded: bool | None = None, copy: CopyDetail = "records") -> str:
    """Section 5: the copy grouped by laptop (or store), application and session, chronological.

    Each laptop and each conversation is a collapsible section (no script): open when the copy is short or
    `expanded`, closed otherwise so that thousands of records stay readable (the summary line of each says
    when, how many records and where). A PDF of a copy too long to print (`copy`) keeps the laptops and
    applications with their counts, and lists each conversation in a table with the same summary
    (`conversations`), or gives one table of the counts per laptop and application (`systems`).
    """
    return "".join(iter_copy(inp, tz, expanded=expanded, copy=copy))


def iter_copy(
    inp: PackageInput, tz: ZoneInfo, *, expanded: bool | None = None, copy: CopyDetail = "records"
) -> Iterator[str]:
    """`render_copy` in pieces, one record at a time (a copy of thousands of records is never one string)."""
    titles = {a.code: a.entry.title or a.code for a in found_categories(inp)}
    shown = expanded if expanded is not None else len(inp.items) <= EXPAND_UP_TO
    open_attr = " open" if shown or copy != "records" else ""
    if not inp.items:
        yield "<p>There is nothing to copy: we found no personal data about you in the systems we searched.</p>"
        return
    by_loc = inp.item_counts.groups
    if copy == "systems":
        rows = [
            [
                esc(f"{TYPE_TEXT.get(ltype, ltype)}: {lname}"),
                esc(agent_title(app) if app else "Stored files"),
                str(len(sessions)),
                str(sum(len(v.positions) for v in sessions.values())),
            ]
            for (ltype, lname), apps in sorted(by_loc.items())
            for app, sessions in sorted(apps.items())
        ]
        yield _table(["System", "Application", "Conversations or files", "Records"], rows, (2, 3), "sessions")
        return
    for (ltype, lname), apps in sorted(by_loc.items()):
        count = sum(len(v.positions) for sessions in apps.values() for v in sessions.values())
        yield (
            f'<details class="location"{open_attr}><summary><h3>{esc(TYPE_TEXT.get(ltype, ltype))}: {esc(lname)} '
            f'<span class="count">({count} record{"s" if count != 1 else ""})</span></h3></summary>'
        )
        for app, sessions in sorted(apps.items()):
            yield f"<h4>{esc(agent_title(app) if app else 'Stored files')}</h4>"
            ordered = sorted(sessions.items(), key=lambda kv: kv[1].first or ())
            rows = []
            for key, session in ordered:
                name, span, many, files = _session_line(key, session, tz)
                if copy == "conversations":
                    records = len(session.positions)
                    rows.append([f'<b>{name}</b><br><span class="note">{files}</span>', span, str(records)])
                    continue
                summary = f"<b>{name}</b> · {span} · {many}<br>{files}"
                yield f'<details class="session"{open_attr}><summary>{summary}</summary>'
                show_path = len(session.paths) > 1
                for item in _in_order(inp, session.positions, session.in_order):
                    yield render_item(item, tz, show_path=show_path, titles=titles)
                yield "</details>"
            if rows:
                yield _table(["Conversation or file, and where", "When", "Records"], rows, (2,), "sessions")
        yield "</details>"


def _session_line(key: str, session: CopySession, tz: ZoneInfo) -> tuple[str, str, str, str]:
    """The summary of one conversation or file of the copy, as HTML: its name, when, how many records, where."""
    span = "undated"
    if session.earliest is not None and session.latest is not None:
        first, last = fmt_time(session.earliest, tz), fmt_time(session.latest, tz)
        span = esc(first) if first == last else f"{esc(first)} to {esc(last)}"
    label = "Session" if session.session_label else "File"
    paths = sorted(session.paths)
    files = "; ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
    many = len(session.positions)
    return f"{label} {esc(key)}", span, f"{many} item{'s' if many != 1 else ''}", esc(files)


def render_timeline(inp: PackageInput, tz: ZoneInfo, *, merged: bool = False) -> str:
    """Section 3: an inline SVG with one row per location and one dot per dated item (x = time).

    `merged` (report.pdf of a copy too long to print): one dot, without tooltip, stands for every record within
    `MERGE_PX` of it on its row, so that tens of thousands of dots do not take the browser minutes to print.
    """
    counted = inp.item_counts
    rows = counted.timeline
    if not rows or counted.earliest is None or counted.latest is None:
        return "<p>No dated records about you were found, so there is no timeline to show.</p>"
    start, end = counted.earliest, counted.latest
    if end - start < timedelta(days=1):
        start, end = start - timedelta(hours=12), end + timedelta(hours=12)
    span = (end - start).total_seconds()
    left, width, row_h, top = 190, 640, 30, 34
    height = top + row_h * len(rows) + 36
    parts = [
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {left + width + 30} {height}" '
        f'role="img" aria-label="Timeline of when your data was processed, per system">',
        "<style>text{font-family:Arial,sans-serif;font-size:12px;fill:#1d2330}.tick{fill:#5b6474;font-size:11px}"
        "</style>",
    ]
    for n in range(5):
        x = left + width * n / 4
        when = start + timedelta(seconds=span * n / 4)
        local = when.astimezone(tz)
        parts.append(f'<line x1="{x:.1f}" y1="{top - 8}" x2="{x:.1f}" y2="{height - 30}" stroke="#e3e7ee"/>')
        anchor = "start" if n == 0 else ("end" if n == 4 else "middle")
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{height - 12}" text-anchor="{anchor}">'
            f"{esc(f'{local.day} {local:%b %Y}')}</text>"
        )
    for index, ((ltype, lname), row) in enumerate(sorted(rows.items(), key=lambda kv: kv[0])):
        y = top + row_h * index + row_h / 2
        colour = TYPE_COLOURS.get(ltype, "#444")
        label = lname if len(lname) <= 24 else lname[:23] + "…"
        parts.append(f'<text x="{left - 10}" y="{y + 4:.1f}" text-anchor="end">{esc(label)}</text>')
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + width}" y2="{y:.1f}" stroke="#c5ccd8" stroke-dasharray="2 3"/>'
        )
        drawn: set[int] = set()
        for item in _in_order(inp, row.positions, row.in_order):
            assert item.timestamp is not None  # noqa: S101 - rows hold dated items only (filtered above)
            x = left + width * (item.timestamp - start).total_seconds() / span
            if merged:
                if round(x / MERGE_PX) not in drawn:
                    drawn.add(round(x / MERGE_PX))
                    parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{colour}" fill-opacity="0.75"/>')
                continue
            tip = f"{fmt_time(item.timestamp, tz)}: {KIND_TEXT.get(item.kind, item.kind)}"
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{colour}" fill-opacity="0.75">'
                f"<title>{esc(tip)}</title></circle>"
            )
    dot = "one or more records about you, close in time" if merged else "one record about you"
    parts.append(f'<text class="tick" x="{left}" y="{top - 14}">Each dot is {dot}; one row per system.</text>')
    legend_x = float(left + width)
    for ltype in sorted({t for t, _ in rows}, reverse=True):
        label = TYPE_TEXT.get(ltype, ltype)
        dot_x = legend_x - 6.2 * len(label) - 9
        parts.append(
            f'<text class="tick" x="{legend_x:.1f}" y="{top - 14}" text-anchor="end">{esc(label)}</text>'
            f'<circle cx="{dot_x:.1f}" cy="{top - 18}" r="5" fill="{TYPE_COLOURS.get(ltype, "#444")}" '
            'fill-opacity="0.75"/>'
        )
        legend_x = dot_x - 20
    parts.append("</svg>")
    return "".join(parts)


def _table(head: list[str], rows: list[list[str]], numeric: Iterable[int] = (), css: str = "") -> str:
    nums = set(numeric)
    th = "".join(f"<th{' class=num' if i in nums else ''}>{esc(h)}</th>" for i, h in enumerate(head))
    body = "".join(
        "<tr>" + "".join(f"<td{' class=num' if i in nums else ''}>{c}</td>" for i, c in enumerate(r)) + "</tr>"
        for r in rows
    )
    cls = f' class="{css}"' if css else ""
    return f"<table{cls}><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _searched_rows(locations: Iterable[SearchedLocation], tz: ZoneInfo) -> list[list[str]]:
    rows = []
    for loc in locations:
        ok = loc.status == "scanned"
        status = (
            f'<span class="{"status-ok" if ok else "status-gap"}">{esc(STATUS_TEXT.get(loc.status, loc.status))}</span>'
        )
        read = loc.status in ("scanned", "scanned_with_gaps")
        detail = esc(plain_reason(loc.reason)) if loc.reason and (read or loc.type not in ("endpoint", "store")) else ""
        if loc.since is not None and not ok:
            detail += f"{'; ' if detail else ''}since {esc(fmt_time(loc.since, tz))}"
        if loc.attempts and not ok:
            detail += f"{'; ' if detail else ''}tried {loc.attempts} time{'s' if loc.attempts != 1 else ''}"
        rows.append(
            [
                esc(loc.name),
                esc(TYPE_TEXT.get(loc.type, loc.type)),
                status,
                detail,
                str(loc.artifacts),
                str(loc.findings),
            ]
        )
    return rows


def render_systems(inp: PackageInput, tz: ZoneInfo) -> str:
    """Section 5: every system searched, and every one not searched, with the reason."""
    head = ["System", "Type", "Result", "Details", "Files examined", "Records about you"]
    read = ("scanned", "scanned_with_gaps")
    searched = [s for s in inp.searched if s.status in read]
    missing = [s for s in inp.searched if s.status not in read and s.type in ("endpoint", "store")]
    elsewhere = [s for s in inp.searched if s.status not in read and s.type not in ("endpoint", "store")]
    out = [f"<h3>Searched ({len(searched)})</h3>"]
    out.append(_table(head, _searched_rows(searched, tz), (4, 5)) if searched else "<p>None.</p>")
    out.append(f"<h3>Not searched ({len(missing)})</h3>")
    if missing:
        out.append(
            "<p>We could not search these systems. Data about you may be held there; we will send you an update "
            "if we search them later.</p>"
        )
        out.append(_table(head, _searched_rows(missing, tz), (4, 5)))
    else:
        out.append("<p>None: every laptop and store in scope was searched.</p>")
    if elsewhere:
        out.append(f"<h3>Other places where copies may exist ({len(elsewhere)})</h3>")
        out.append(
            "<p>These hold data we cannot search record by record, such as disk images of virtual machines, or "
            "copies kept by our service providers. We tell you about them so that the picture is complete.</p>"
        )
        out.append(_table(head, _searched_rows(elsewhere, tz), (4, 5)))
    return "".join(out)


def _or_pending(value: str | None, pending: str) -> str:
    return esc(value) if value is not None else f'<span class="pending">{esc(pending)}</span>'


def _list_or_pending(values: Iterable[str] | None, pending: str, empty: str) -> str:
    if values is None:
        return f'<span class="pending">{esc(pending)}</span>'
    return "<br>".join(esc(v) for v in values) or esc(empty)


def render_article15(inp: PackageInput) -> str:
    """What we do with the data: Art. 15(1)(a)-(h) and 15(2), tailored to the categories found, every answer
    from the register (an answer it does not give yet says it is being completed, and by when)."""
    answers = found_categories(inp)
    pending = pending_text(inp)
    out = []
    points = points_being_completed(inp)
    if points:
        out.append(
            '<div class="box warn"><strong>Some of this information is still being completed.</strong> '
            f"{esc(pending)} It concerns: {esc('; '.join(points))}.</div>"
        )
    if not answers:
        out.append(
            "<p>Because we found no personal data about you, no purposes, recipients or retention periods apply "
            "to you. Your rights and the right to complain are listed below all the same.</p>"
        )
    else:
        out.append(
            "<p>This information comes from our record of processing activities and covers only the kinds of data "
            "we actually found about you.</p>"
        )
        out += _found_answers_html(inp, answers, pending)
    out += _rights_html(inp, answers, pending)
    out += _decisions_and_transfers_html(inp, answers, pending)
    return "".join(out)


def _found_answers_html(inp: PackageInput, answers: Sequence[CategoryAnswer], pending: str) -> list[str]:
    """Art. 15(1)(a)-(d) for the kinds of data found: purposes and basis, the kinds, recipients, retention."""
    out: list[str] = []
    out.append("<h3>(a) Why we use your data (purposes and legal basis)</h3>")
    out.append(
        _table(
            ["Kind of data", "Purposes", "Legal basis"],
            [
                [
                    esc(a.entry.title),
                    _list_or_pending(a.entry.purposes, pending, ""),
                    _or_pending(a.entry.legal_basis, pending),
                ]
                for a in answers
            ],
        )
    )
    counts = inp.item_counts.categories
    out.append("<h3>(b) The kinds of personal data we hold about you</h3>")
    out.append(
        _table(
            ["Kind of data", "Records"],
            [[esc(a.entry.title), str(counts[a.code])] for a in answers],
            (1,),
        )
    )
    out.append("<h3>(c) Who receives your data (recipients)</h3>")
    out.append(
        _table(
            ["Kind of data", "Recipients"],
            [
                [
                    esc(a.entry.title),
                    _list_or_pending(a.entry.recipients, pending, "None, as recorded in our register"),
                ]
                for a in answers
            ],
        )
    )
    out.append("<h3>(d) How long we keep it</h3>")
    out.append(
        _table(
            ["Kind of data", "Retention period or criteria"],
            [[esc(a.entry.title), _or_pending(a.entry.retention, pending)] for a in answers],
        )
    )
    return out


def _rights_html(inp: PackageInput, answers: Sequence[CategoryAnswer], pending: str) -> list[str]:
    """Art. 15(1)(e)-(g): the person's rights, the right to complain, and where the data came from."""
    out: list[str] = []
    out.append("<h3>(e) Your rights</h3><ul>")
    for right in rights_text(inp.controller):
        out.append(
            f"<li><b>{esc(right['right'].capitalize())}</b> ({esc(right['article'])}): {esc(right['text'])}</li>"
        )
    out.append("</ul>")
    complaint = inp.controller.authority
    out.append("<h3>(f) Your right to complain</h3>")
    out.append(
        f"<p>You have the right to lodge a complaint with a supervisory authority: <b>{esc(complaint.name)}</b>, "
        f"{esc(complaint.contact)}. You can also come to us first at {esc(inp.controller.contact)}.</p>"
    )
    if answers:
        out.append("<h3>(g) Where your data came from</h3>")
        out.append(
            _table(
                ["Kind of data", "Source"],
                [[esc(a.entry.title), _or_pending(a.entry.source, pending)] for a in answers],
            )
        )
    return out


def _decisions_and_transfers_html(inp: PackageInput, answers: Sequence[CategoryAnswer], pending: str) -> list[str]:
    """Art. 15(1)(h) and 15(2): automated decisions, transfers, service providers and their safeguards."""
    register = inp.register
    out: list[str] = []
    out.append("<h3>(h) Automated decision-making</h3>")
    out.append(f"<p>{_or_pending(register.automated_decisions, pending)}</p>")
    out.append("<h3>Transfers outside the UK and the EEA (Article 15(2))</h3>")
    out.append(f"<p>{_or_pending(register.transfers, pending)}</p>")
    if register.processors is None:
        out.append(
            f'<p>Service providers who process your data for us: <span class="pending">{esc(pending)}</span></p>'
        )
    elif register.processors:
        out.append(
            _table(
                ["Service provider", "What it does for us", "Country", "Safeguard for the transfer"],
                [
                    [esc(p.name), esc(p.role), esc(p.country), esc(p.safeguard or "Not needed (UK or EEA)")]
                    for p in register.processors
                ],
            )
        )
    transfers = [a for a in answers if a.entry.transfers]
    if transfers:
        out.append(
            _table(["Kind of data", "Safeguards"], [[esc(a.entry.title), esc(a.entry.transfers)] for a in transfers])
        )
    return out


def render_scope(inp: PackageInput, tz: ZoneInfo) -> str:
    """Where we looked: every laptop and store with its result, then what we did not search, in plain words."""
    systems = [s for s in inp.searched if s.type in ("endpoint", "store")]
    read = [s for s in systems if s.status in ("scanned", "scanned_with_gaps")]
    out = [
        f"<p>We searched {len(read)} of the {len(systems)} laptops and central stores that hold conversations with "
        "AI assistants. Anything listed under <em>What we did not search</em> was not looked at, so data about "
        "you may be held there as well.</p>"
    ]
    rows = []
    for loc in systems:
        ok = loc.status == "scanned"
        css = "status-ok" if ok else "status-gap"
        rows.append(
            [
                esc(loc.name),
                esc(TYPE_TEXT.get(loc.type, loc.type)),
                f'<span class="{css}">{esc(status_text(loc.status))}</span>',
                str(loc.findings),
            ]
        )
    out.append('<details class="fold" open><summary>Every laptop and store, with the result</summary>')
    out.append(_table(["System", "Type", "Result", "Records about you"], rows, (3,)) if rows else "<p>None.</p>")
    out.append("</details>")
    missing = not_searched(inp)
    out.append("<h3>What we did not search</h3>")
    if missing:
        out.append('<ul class="scope">')
        out.extend(f"<li><b>{esc(what)}</b>: {esc(why)}</li>" for what, why in missing)
        out.append("</ul>")
    else:
        out.append("<p>Nothing: every laptop and store in scope was searched in full.</p>")
    return "".join(out)


def render_summary(inp: PackageInput, tz: ZoneInfo, *, copy: CopyDetail = "records") -> str:
    """Section 1: confirmation, gaps, what was found where, counts by category, withheld data (`copy`: what
    section 5 shows)."""
    out = []
    if inp.items:
        where = (
            "A copy of every record is in section 5 and in the data folder of this package."
            if copy == "records"
            else "Section 5 says where they are; a copy of every record is in report.html and in the data folder "
            "of this package."
        )
        out.append(
            '<div class="box yes"><strong class="big">Yes, we process personal data about you.</strong>'
            f"We found {len(inp.items)} record{'s' if len(inp.items) != 1 else ''} about you. {where}</div>"
        )
    else:
        out.append(
            '<div class="box no"><strong class="big">No, we found no personal data about you.</strong>'
            "We searched the systems listed in section 2 and found no records about you there.</div>"
        )
    missing = [s for s in inp.searched if s.status != "scanned"]
    if inp.gaps_note or missing:
        gaps = inp.gaps_note.strip().rstrip(".") if inp.gaps_note else ""
        note = esc(gaps[:1].upper() + gaps[1:] + ".") if gaps else ""
        out.append(
            '<div class="box warn"><strong>Some places could not be searched.</strong> '
            f"{note}{' ' if note else ''}In all, {len(missing)} system{'s' if len(missing) != 1 else ''} "
            "could not be searched or cannot be searched record by record; section 2 lists them with the reason.</div>"
        )
    if inp.items:
        rows = []
        for name, place in sorted(inp.item_counts.places.items(), key=lambda kv: kv[0]):
            apps = sorted({agent_title(app) if app else "stored files" for app in place.apps})
            rows.append([esc(name), esc(", ".join(apps)), str(len(place.sessions)), str(place.items)])
        out.append("<h3>What we found, and where</h3>")
        out.append(_table(["System", "Applications", "Sessions or files", "Records"], rows, (2, 3)))
        out.append("<h3>Kinds of data</h3><p>")
        answers = {a.code: a for a in found_categories(inp)}
        for code, count in inp.item_counts.categories.most_common():
            out.append(f'<span class="chip">{esc(answers[code].entry.title)}: {count}</span> ')
        out.append("</p>")
    totals = inp.item_counts.redactions
    if totals:
        total = sum(totals.values())
        out.append("<h3>Information about other people that we withheld</h3>")
        out.append(
            f"<p>Some records also contain other people's data. To protect them (Art. 15(4)) we replaced "
            f'{total} piece{"s" if total != 1 else ""} of their data with markers such as <mark class="redaction">'
            "[email 1]</mark>. Within one conversation or file the same marker stands for the same person's "
            "detail; the numbering starts again in the next one. Nothing else was removed, and no record was "
            "withheld.</p>"
        )
        replaced: Counter[str] = Counter()
        for code, n in totals.items():
            replaced[explain_reason(code)] += n
        out.append(
            _table(
                ["What was replaced", "Times"],
                [[esc(what.capitalize()), str(n)] for what, n in sorted(replaced.items())],
                (1,),
            )
        )
    return "".join(out)


def render_access_html(inp: PackageInput, *, expanded: bool | None = None, copy: CopyDetail = "records") -> str:
    """The whole report.html page for an access package (items already in package order).

    Args:
        inp: the package input.
        expanded: open every conversation of the copy (for printing); by default they are open only when the
            copy is short (`EXPAND_UP_TO` items), else the reader opens the one they want.
        copy: what section 5 shows: every record (`records`, report.html), or, for report.pdf of a copy too
            long to print (`[access].pdf_max_items`), each conversation with its count (`conversations`) or
            only the counts per laptop and application (`systems`); then it says that the records are in
            report.html and data/. Every other section is the same.

    Returns:
        A self-contained HTML document: inline CSS and SVG, images as data: URIs, no script, no external asset.
    """
    return "".join(iter_access_html(inp, expanded=expanded, copy=copy))


def iter_access_html(inp: PackageInput, *, expanded: bool | None = None, copy: CopyDetail = "records") -> Iterator[str]:
    """`render_access_html` in pieces, the copy one record at a time: what a package writes to its file, so
    that the page of thousands of records is never held as one string."""
    tz = inp.controller.tz
    sections: list[tuple[str, str, Callable[[], Iterable[str]]]] = [
        ("summary", "1. Summary", lambda: [render_summary(inp, tz, copy=copy)]),
        ("scope", "2. Where we looked", lambda: [render_scope(inp, tz)]),
        ("article15", "3. What we do with your data (Article 15)", lambda: [render_article15(inp)]),
        ("timeline", "4. When your data was processed", lambda: [render_timeline(inp, tz, merged=copy != "records")]),
        (
            "copy",
            "5. Copy of your data (Article 15(3))",
            lambda: chain([_copy_intro(inp, copy=copy)], iter_copy(inp, tz, expanded=expanded, copy=copy)),
        ),
        ("systems", "6. Systems we searched, in detail", lambda: [render_systems(inp, tz)]),
    ]
    toc = "".join(f'<li><a href="#{sid}">{esc(title)}</a></li>' for sid, title, _ in sections)
    meta = (
        f"<dt>Request</dt><dd>{esc(inp.request_id)}</dd>"
        f"<dt>Received</dt><dd>{esc(fmt_time(inp.received_at, tz))}</dd>"
        f"<dt>Answer due by</dt><dd>{esc(f'{inp.due.day} {inp.due:%b %Y}')}</dd>"
        f"<dt>Identity</dt><dd>{esc(inp.identity.sentence() if inp.identity else 'Not recorded.')}</dd>"
        f"<dt>Produced</dt><dd>{esc(fmt_time(inp.generated_at, tz))}</dd>"
    )
    then = (
        "gives you a copy of every record we found"
        if copy == "records"
        else "says where the records we found are (the records themselves are in report.html and the data folder)"
    )
    dpo = f" Our data protection officer: {esc(inp.controller.dpo_contact)}." if inp.controller.dpo_contact else ""
    yield (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; style-src '
        "'unsafe-inline'\">"
        f"<title>Your personal data: request {esc(inp.request_id)}</title><style>{CSS}</style></head><body>"
        f'<header class="cover"><div class="inner"><div class="controller">{esc(inp.controller.name)}</div>'
        f'<h1>Your personal data: copy and information</h1><dl class="meta">{meta}</dl></div></header><main>'
        '<p class="lead">You asked us whether we hold personal data about you and for a copy of it (Article 15 of the '
        "General Data Protection Regulation). This report answers both. It starts with a summary, then explains what "
        f"we do with your data, and then {then}.</p>"
        f'<nav class="toc"><b>Contents</b><ol>{toc}</ol></nav>'
    )
    for sid, title, parts in sections:
        yield f'<section class="major" id="{sid}"><h2>{esc(title)}</h2>'
        yield from parts()
        yield "</section>"
    yield (
        f'<footer class="end">Questions about this report: {esc(inp.controller.contact)}.{dpo} '
        "This package also contains report.json (the same information, machine-readable), a data folder with the "
        "records themselves, and manifest.json with a checksum of every file.</footer></main></body></html>\n"
    )


def _copy_intro(inp: PackageInput, *, copy: CopyDetail = "records") -> str:
    if not inp.items:
        return ""
    if copy != "records":
        many = len(inp.items)
        below = (
            "Below, each laptop or store lists its conversations and files, with when they took place and how many "
            "records each holds."
            if copy == "conversations"
            else "The table below gives, for each laptop or store and application, how many conversations or files "
            "and how many records it holds; report.html lists the conversations and files too."
        )
        return (
            f'<div class="box warn"><strong>This PDF counts the {many} record{"s" if many != 1 else ""} of your copy '
            f"but does not reproduce {'them' if many != 1 else 'it'}.</strong> At this size the full copy is in "
            "report.html, which opens in any web browser, and in "
            f"the data folder of this package (one file per conversation or file). {below}</div>"
        )
    markers = inp.item_counts.placeholders
    kinds = Counter(m.split(" ")[0].strip("[]") for m in markers)
    legend = ""
    if markers:
        examples = [next(m for m in markers if m.startswith(f"[{k}")) for k in kinds]
        legend = (
            "<p>Markers in the text stand for other people's data we removed: "
            + "; ".join(
                f'<mark class="redaction">{esc(m)}</mark> {esc(explain_placeholder(m).removeprefix(m + " "))}'
                for m in examples
            )
            + ". Numbers tell different people apart.</p>"
        )
    return (
        "<p>Records are grouped by laptop or store, then by application and conversation (session), oldest first. "
        "Where a single line only makes sense with what came before or after it, that context is shown in grey. "
        "Long tool outputs are shortened here; the data folder holds them in full.</p>" + legend
    )
