"""Writers for each artifact family of a simulated OS user: Cowork sessions, Code tab, ~/.claude, logs, residue.

Owns *what* goes into each simulated file and where subjects and traps are planted. Never imports the
orchestrator's layouts or detection; never reads the wall clock.
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from simulation.identity import Subject, Trap, subject_traps
from simulation.laptop import (
    DAY_MS,
    MODEL,
    Account,
    Laptop,
    OSUser,
    assistant_body,
    hex_id,
    native_path,
    noise_audit,
    noise_turn,
    slug_for,
    subject_lines,
    tool_use_id,
    user_body,
    write_audit,
)
from simulation.tree import Ctx, Event, compact, iso_ms, new_uuid, render_json, render_transcript

_ADJ = ("brave", "quiet", "amber", "swift", "lucid", "gentle", "bold", "misty", "eager", "calm")
_LOG_ZONES = {"macos": "Europe/London", "windows": "Europe/Berlin", "linux": "Europe/Oslo"}
_NOUN = ("otter", "falcon", "cedar", "harbor", "comet", "meadow", "lantern", "summit", "river", "quartz")


def cowork_base(root: str, org: tuple[str, str]) -> str:
    """`<root>/local-agent-mode-sessions/<A>/<B>`."""
    return f"{root}/local-agent-mode-sessions/{org[0]}/{org[1]}"


def _process_name(rng: random.Random) -> str:
    return f"{rng.choice(_ADJ)}-{rng.choice(_ADJ)}-{rng.choice(_NOUN)}"


def _owner_fields(lap: Laptop, ctx: Ctx, account: Account) -> tuple[str, str]:
    if account.subject is None:
        return account.email, account.name
    return ctx.use(account.subject, "email", form="email_lower"), ctx.use(account.subject, "name", form="name")


def _record(
    lap: Laptop,
    user: OSUser,
    *,
    sid: str,
    cli: str | None,
    process: str,
    cwd: str,
    created: int,
    last: int,
    account: Account,
    session_type: str,
    exclude: Sequence[Subject],
) -> tuple[bytes, Ctx]:
    rng = lap.rng
    ctx = lap.ctx()
    email, account_name = _owner_fields(lap, ctx, account)
    subject = lap.subject(exclude)
    party = lap.party()
    title = f"Reply to {ctx.use(subject, 'name')} about {rng.choice(lap.pool.titles).lower()}"
    other = lap.subject(exclude)
    initial = (
        f"Draft an answer to {ctx.use(other, 'email')} and cc {party.name} <{party.email}>; "
        f"call back on {ctx.use(other, 'phone')} if unclear."
    )
    folder = native_path(user.os, f"{user.home}/Documents/Projects/{rng.choice(_NOUN)}")
    record: dict[str, object] = {"sessionId": sid}
    if cli is not None:
        record["cliSessionId"] = cli
    record.update(
        {
            "processName": process,
            "cwd": cwd,
            "userSelectedFolders": [folder],
            "createdAt": created,
            "lastActivityAt": last,
            "title": title,
            "initialMessage": initial,
            "emailAddress": email,
            "accountName": account_name,
            "model": MODEL,
            "sessionType": session_type,
            "isArchived": False,
            "permissionMode": "default",
            "fsDetectedFiles": [f"{folder}/notes.md"],
            "userApprovedFileAccessPaths": [folder],
            "mcqAnswers": {},
        }
    )
    if cli is None:
        record["error"] = "VM failed to start (code 14)"
    return render_json(record, [ctx]), ctx


def _planted_events(
    lap: Laptop,
    *,
    account: Account,
    exclude: Sequence[Subject],
    spill_id: str,
    spill_path: str,
    cwd: str,
    session_id: str,
    traps: Sequence[Trap],
    noise_turns: int,
    end_ms: int,
) -> tuple[list[Event], list[Event]]:
    """Transcript events naming subjects in every line type, their audit mirror, and the spill file's ctx."""
    rng, pool = lap.rng, lap.pool
    events: list[Event] = []
    audit: list[Event] = [
        Event(
            {
                "type": "system",
                "subtype": "init",
                "cwd": cwd,
                "model": MODEL,
                "tools": ["Bash", "Read", "Edit", "Write", "Task"],
                "permissionMode": "default",
            }
        )
    ]
    if account.subject is not None and not traps:
        c = lap.ctx()
        email = c.use(account.subject, "email", form="email_lower")
        events.append(
            Event(
                {
                    "type": "attachment",
                    "attachment": {"type": "session_context", "context": {"userEmail": email, "cwd": cwd}},
                },
                c,
            )
        )
    elif account.subject is None:
        events.append(
            Event(
                {
                    "type": "attachment",
                    "attachment": {"type": "session_context", "context": {"userEmail": account.email, "cwd": cwd}},
                }
            )
        )
    # user prompt as a plain string
    c1 = lap.ctx()
    s = lap.subject(exclude)
    party = lap.party()
    prompt = (
        f"Please draft a reply to {c1.use(s, 'name')} about the {rng.choice(pool.titles).lower()} "
        f"and copy {party.name} <{party.email}>."
    )
    events.append(Event(user_body(prompt), c1))
    audit.append(
        Event(
            {
                "type": "user",
                "message": {"role": "user", "content": prompt},
                "client_platform": "desktop",
                "parent_tool_use_id": None,
            },
            c1,
        )
    )
    # thinking + text
    c2 = lap.ctx()
    s2 = lap.subject(exclude)
    thinking = (
        f"The user wants a reply. Earlier notes say {c2.use(s2, 'name')} prefers phone: "
        f"{c2.use(s2, 'phone')}. {party.name} handles invoices."
    )
    answer_block: dict[str, object] = {
        "type": "text",
        "text": "I will look the contact up first, then draft the reply.",
    }
    events.append(
        Event(
            assistant_body(
                rng,
                [
                    {
                        "type": "thinking",
                        "thinking": thinking,
                        "signature": base64.b64encode(rng.randbytes(48)).decode(),
                    },
                    answer_block,
                ],
            ),
            c2,
        )
    )
    # tool_use with input.command + tool_result + toolUseResult copy (one ctx: same text on both lines)
    c3 = lap.ctx()
    s3 = lap.subject(exclude)
    tid = tool_use_id(rng)
    needle = c3.use(s3, "email")
    command = f"grep -rin '{needle}' ~/Documents/crm/contacts.csv"
    events.append(
        Event(
            assistant_body(
                rng,
                [
                    {
                        "type": "tool_use",
                        "id": tid,
                        "name": "Bash",
                        "input": {"command": command, "description": "Find the contact"},
                    }
                ],
            ),
            c3,
        )
    )
    stdout = f"contacts.csv:{rng.randint(2, 900)}:" + subject_lines(lap, c3, s3, lap.party()).replace("\n", " | ")
    result_body = user_body(
        [{"type": "tool_result", "tool_use_id": tid, "content": stdout, "is_error": False}],
        {"stdout": stdout, "stderr": "", "interrupted": False, "isImage": False},
    )
    events.append(Event(result_body, c3))
    audit.append(Event({"type": "user", "message": result_body["message"], "parent_tool_use_id": None}, c3))
    # user blocks: text + an inline image
    c4 = lap.ctx()
    s4 = lap.subject(exclude)
    events.append(
        Event(
            user_body(
                [
                    {"type": "text", "text": f"Staff id is {c4.use(s4, 'user_id')}, see the scan below."},
                    {
                        "type": "image",
                        "source": {
                            "type": "base64",
                            "media_type": "image/png",
                            "data": base64.b64encode(rng.randbytes(96)).decode(),
                        },
                    },
                ]
            ),
            c4,
        )
    )
    for _ in range(noise_turns):
        turn = noise_turn(lap)
        events.extend(turn)
        audit.extend(noise_audit(lap, session_id, turn))
    # a large tool output spilled to tool-results/<id>.txt
    preview = rng.choice(pool.outputs)[:400]
    events.append(
        Event(
            assistant_body(
                rng,
                [
                    {
                        "type": "tool_use",
                        "id": spill_id,
                        "name": "Bash",
                        "input": {"command": "cat exports/contacts_full.csv"},
                    }
                ],
            )
        )
    )
    spilled = (
        f"Output too large ({rng.randint(40, 900)}KB). Full output saved to: {spill_path}\n\n"
        f"Preview (first 2KB):\n{preview}"
    )
    events.append(
        Event(
            user_body(
                [{"type": "tool_result", "tool_use_id": spill_id, "content": spilled}],
                {"stdout": spilled, "stderr": "", "interrupted": False, "isImage": False},
            )
        )
    )
    # system away summary
    c5 = lap.ctx()
    s5 = lap.subject(exclude)
    events.append(
        Event(
            {
                "type": "system",
                "subtype": "away_summary",
                "level": "info",
                "isMeta": False,
                "content": f"While you were away: the reply to {c5.use(s5, 'name')} is drafted; "
                f"{c5.use(s5, 'email')} asked for a call.",
            },
            c5,
        )
    )
    # attachments: queued command and edited file snippet
    c6 = lap.ctx()
    s6 = lap.subject(exclude)
    events.append(
        Event(
            {
                "type": "attachment",
                "attachment": {"type": "queued_command", "prompt": f"also text {c6.use(s6, 'phone')} the meeting time"},
            },
            c6,
        )
    )
    c7 = lap.ctx()
    s7 = lap.subject(exclude)
    events.append(
        Event(
            {
                "type": "attachment",
                "attachment": {
                    "type": "edited_text_file",
                    "filename": "notes/contacts.md",
                    "snippet": f"- {c7.use(s7, 'name')} ({c7.use(s7, 'user_id')}): prefers mornings",
                },
            },
            c7,
        )
    )
    # queue-operation and last-prompt repeat the same prompt
    c8 = lap.ctx()
    s8 = lap.subject(exclude)
    last_prompt = f"send the summary to {c8.use(s8, 'name')} at {c8.use(s8, 'email')}"
    events.append(
        Event({"type": "queue-operation", "operation": "enqueue", "content": last_prompt}, c8, envelope=False)
    )
    events.append(Event(user_body(last_prompt), c8))
    audit.append(
        Event(
            {
                "type": "user",
                "message": {"role": "user", "content": last_prompt},
                "client_platform": "desktop",
                "parent_tool_use_id": None,
            },
            c8,
        )
    )
    events.append(Event(assistant_body(rng, [{"type": "text", "text": rng.choice(pool.answers)}])))
    audit.append(
        Event(
            {
                "type": "result",
                "subtype": "success",
                "is_error": False,
                "num_turns": noise_turns + 4,
                "total_cost_usd": round(rng.uniform(0.01, 3.0), 4),
                "duration_ms": rng.randint(2000, 900000),
            }
        )
    )
    for trap in traps:
        events.append(Event(user_body(f"Not the same person: {trap.literal} (see {party.name}'s list)")))
    c9 = lap.ctx()
    s9 = lap.subject(exclude)
    events.append(Event({"type": "last-prompt", "lastPrompt": last_prompt}, c8, envelope=False))
    events.append(Event({"type": "summary", "summary": f"Reply to {c9.use(s9, 'name')} drafted"}, c9, envelope=False))
    events.append(Event({"type": "ai-title", "aiTitle": rng.choice(pool.titles)}, envelope=False))
    events.append(Event({"type": "custom-title", "customTitle": rng.choice(pool.titles)}, envelope=False))
    events.append(
        Event(
            {
                "type": "file-history-snapshot",
                "snapshot": {
                    "trackedFileBackups": {
                        "notes/contacts.md": {
                            "backupFileName": f"{hex_id(rng, 16)}@v1",
                            "version": 1,
                            "backupTime": iso_ms(end_ms),
                        }
                    }
                },
            },
            envelope=False,
        )
    )
    for event in audit:
        event.body.setdefault("session_id", session_id)
    return events, audit


def _spill_file(lap: Laptop, exclude: Sequence[Subject], traps: Sequence[Trap]) -> tuple[bytes, Ctx]:
    ctx = lap.ctx(text=True)
    head = lap.rng.choice(lap.pool.outputs)
    if traps:
        body = "".join(f"lookalike,{t.literal},{lap.party().name}\n" for t in traps)
    else:
        body = subject_lines(lap, ctx, lap.subject(exclude), lap.party())
    return (head + "\n" + body + lap.rng.choice(lap.pool.outputs) + "\n").encode("utf-8"), ctx


def cowork_session(
    lap: Laptop,
    user: OSUser,
    root: str,
    *,
    account: Account,
    org: tuple[str, str],
    variant: str = "full",
    min_age: float = 1.0,
    max_age: float = 3 * 365.0,
    legacy_audit: bool = False,
) -> None:
    """A planted Cowork session: variant `full`, `resumed`, `agent` (dispatch generations), `failed`, `trap`.

    `legacy_audit` writes its audit.jsonl without MACs (older builds), listed in truth.json.
    """
    rng = lap.rng
    created, last = lap.times(min_age_days=min_age, max_age_days=max_age)
    sid = "local_" + new_uuid(rng)
    process = _process_name(rng)
    cwd = f"/sessions/{process}"
    slug = f"-sessions-{process}"
    base = cowork_base(root, org)
    traps: list[Trap] = subject_traps(lap.subjects[0]) if variant == "trap" else []
    exclude: list[Subject] = [lap.subjects[0]] if traps else []
    if variant == "failed":
        data, ctx = _record(
            lap,
            user,
            sid=sid,
            cli=None,
            process=process,
            cwd=cwd,
            created=created,
            last=last,
            account=account,
            session_type="local",
            exclude=exclude,
        )
        lap.add(f"{base}/{sid}.json", data, last, "session_record", sid, ctxs=[ctx])
        lap.add_session(user, sid, app="cowork", kind="failed", account=account, created=created, last=last, root=root)
        return
    if variant == "agent":
        _agent_session(lap, user, root, base, sid=sid, process=process, account=account, created=created, last=last)
        return
    cli = new_uuid(rng)
    # resumed sessions use the 8-hex short directory name some builds write
    sdir = f"{base}/{sid.removeprefix('local_')[:8]}" if variant == "resumed" else f"{base}/{sid}"
    proj = f"{sdir}/.claude/projects/{slug}"
    start = created
    cli_ids = [cli]
    if variant == "resumed":
        start = created + (last - created) // 3
        for index, suffix in enumerate(("superseded", "orphaned")):
            old = new_uuid(rng)
            cli_ids.append(old)
            lo = created + (start - created) * index // 2
            hi = created + (start - created) * (index + 1) // 2
            ctx = lap.ctx()
            s = lap.subject(exclude)
            events = [
                Event(user_body(f"Continue the notes for {ctx.use(s, 'name')} ({ctx.use(s, 'email')})"), ctx),
                *noise_turn(lap),
            ]
            data, _ = render_transcript(
                events, rng=rng, session_id=old, cwd=cwd, entrypoint="local-agent", start_ms=lo, end_ms=hi
            )
            name = (
                f"{old}.jsonl.superseded-{hi}"
                if suffix == "superseded"
                else f"{old}.orphaned-{hi}-{hex_id(rng, 6)}.jsonl"
            )
            lap.add(f"{proj}/{name}", data, hi, "transcript", sid, ctxs=[ctx])
    data, rctx = _record(
        lap,
        user,
        sid=sid,
        cli=cli,
        process=process,
        cwd=cwd,
        created=created,
        last=last,
        account=account,
        session_type="local",
        exclude=exclude,
    )
    lap.add(f"{base}/{sid}.json", data, last, "session_record", sid, ctxs=[rctx])
    spill_id = tool_use_id(rng)
    spill_path = f"{proj}/{cli}/tool-results/{spill_id}.txt"
    events, audit = _planted_events(
        lap,
        account=account,
        exclude=exclude,
        spill_id=spill_id,
        spill_path=spill_path,
        cwd=cwd,
        session_id=cli,
        traps=traps,
        noise_turns=rng.randint(2, 5),
        end_ms=last,
    )
    data, _ = render_transcript(
        events, rng=rng, session_id=cli, cwd=cwd, entrypoint="local-agent", start_ms=start, end_ms=last
    )
    lap.add(f"{proj}/{cli}.jsonl", data, last, "transcript", sid, ctxs=[e.ctx for e in events if e.ctx], traps=traps)
    data, sctx = _spill_file(lap, exclude, traps)
    lap.add(spill_path, data, last, "tool_result", sid, ctxs=[sctx], traps=traps)
    # subagent transcript + meta
    agent_id = hex_id(rng, 8)
    actx = lap.ctx()
    s = lap.subject(exclude)
    sub_events = [
        Event(user_body(f"Find every invoice that mentions {actx.use(s, 'name')} or {actx.use(s, 'phone')}"), actx),
        *noise_turn(lap),
    ]
    data, _ = render_transcript(
        sub_events,
        rng=rng,
        session_id=cli,
        cwd=cwd,
        entrypoint="local-agent",
        start_ms=start,
        end_ms=last,
        sidechain=True,
        agent_id=agent_id,
    )
    lap.add(f"{proj}/{cli}/subagents/agent-{agent_id}.jsonl", data, last, "subagent", sid, ctxs=[actx])
    meta = {"agentType": "general-purpose", "description": "Search invoices", "agentId": agent_id}
    lap.add(f"{proj}/{cli}/subagents/agent-{agent_id}.meta.json", render_json(meta, []), last, "subagent_meta", sid)
    # task list
    tctx = lap.ctx()
    s = lap.subject(exclude)
    task = {
        "id": "1",
        "subject": f"Send the minutes to {tctx.use(s, 'name')}",
        "description": f"Use {tctx.use(s, 'email')}; cc {lap.party().email}",
        "activeForm": "Sending minutes",
        "status": "pending",
        "blocks": [],
        "blockedBy": [],
    }
    lap.add(f"{sdir}/.claude/tasks/{cli}/1.json", render_json(task, [tctx]), last, "task", sid, ctxs=[tctx])
    # audit log: HMAC-chained; the oldest session of a user gets a legacy unsigned log
    if not traps:
        write_audit(lap, f"{sdir}/audit.jsonl", audit, start=start, end=last, session_id=sid, signed=not legacy_audit)
    else:
        noise_only = [e for e in audit if e.ctx is None]
        write_audit(lap, f"{sdir}/audit.jsonl", noise_only, start=start, end=last, session_id=sid)
    # uploads (copy; the first full session of each user hard-links the original in ~/Documents) and outputs
    uctx = lap.ctx(text=True)
    s = lap.subject(exclude)
    upload = "Attendees\n" + subject_lines(lap, uctx, s, lap.party()) + rng.choice(lap.pool.outputs) + "\n"
    if variant == "full" and user.full_sessions == 0:
        doc = f"{user.home}/Documents/contacts-{hex_id(rng, 4)}.txt"
        lap.add(doc, upload.encode("utf-8"), created, "other", None, ctxs=[uctx], in_agent_store=False)
        lap.link(doc, f"{sdir}/uploads/{doc.rsplit('/', 1)[1]}", sid)
    else:
        lap.add(
            f"{sdir}/uploads/attendees-{hex_id(rng, 4)}.txt",
            upload.encode("utf-8"),
            created,
            "upload",
            sid,
            ctxs=[uctx],
        )
    if variant == "full":
        user.full_sessions += 1
    octx = lap.ctx(text=True)
    s = lap.subject(exclude)
    output = (
        f"# Reply draft\n\nDear {octx.use(s, 'name')},\n\nthank you for your note. "
        f"I have copied {lap.party().name}.\n\n{rng.choice(lap.pool.answers)}\n"
    )
    lap.add(f"{sdir}/outputs/reply-draft.md", output.encode("utf-8"), last, "output", sid, ctxs=[octx])
    lap.add_session(
        user, sid, app="cowork", kind=variant, account=account, created=created, last=last, root=root, cli_ids=cli_ids
    )


def _agent_session(
    lap: Laptop,
    user: OSUser,
    root: str,
    base: str,
    *,
    sid: str,
    process: str,
    account: Account,
    created: int,
    last: int,
) -> None:
    rng = lap.rng
    cwd = f"/sessions/{process}"
    cli_ids: list[str] = []
    span = (last - created) // 2
    for generation in range(2):
        cli = new_uuid(rng)
        cli_ids.append(cli)
        lo, hi = created + span * generation, created + span * (generation + 1)
        gdir = f"{base}/agent/local_ditto_{hex_id(rng, 8)}"
        ctx = lap.ctx()
        s = lap.subject()
        prompt = f"Every morning, summarise new mail from {ctx.use(s, 'email')} and {ctx.use(s, 'name')}"
        events = [Event(user_body(prompt), ctx), *noise_turn(lap)]
        data, _ = render_transcript(
            events, rng=rng, session_id=cli, cwd=cwd, entrypoint="local-agent", start_ms=lo, end_ms=hi
        )
        lap.add(f"{gdir}/.claude/projects/-sessions-{process}/{cli}.jsonl", data, hi, "transcript", sid, ctxs=[ctx])
        audit = [
            Event(
                {
                    "type": "user",
                    "message": {"role": "user", "content": prompt},
                    "session_id": cli,
                    "client_platform": "dispatch",
                    "parent_tool_use_id": None,
                },
                ctx,
            )
        ]
        write_audit(lap, f"{gdir}/audit.jsonl", audit, start=lo, end=hi, session_id=sid)
    data, ctx = _record(
        lap,
        user,
        sid=sid,
        cli=cli_ids[-1],
        process=process,
        cwd=cwd,
        created=created,
        last=last,
        account=account,
        session_type="agent",
        exclude=(),
    )
    lap.add(f"{base}/agent/{sid}.json", data, last, "session_record", sid, ctxs=[ctx])
    if lap.agent_dirs:
        _agent_session_dir(lap, f"{base}/agent/{sid}", sid=sid, cli=cli_ids[-1], process=process, span=(created, last))
    lap.add_session(
        user, sid, app="cowork", kind="agent", account=account, created=created, last=last, root=root, cli_ids=cli_ids
    )


def _agent_session_dir(lap: Laptop, sdir: str, *, sid: str, cli: str, process: str, span: tuple[int, int]) -> None:
    """The folder of an `agent` session beside its record: audit log and key, a transcript, an output."""
    rng = lap.rng
    lo, hi = span
    ctx = lap.ctx()
    s = lap.subject()
    prompt = f"Prepare the weekly digest for {ctx.use(s, 'name')}"
    events = [Event(user_body(prompt), ctx), *noise_turn(lap)]
    data, _ = render_transcript(
        events, rng=rng, session_id=cli, cwd=f"/sessions/{process}", entrypoint="local-agent", start_ms=lo, end_ms=hi
    )
    lap.add(f"{sdir}/.claude/projects/-sessions-{process}/{cli}.jsonl", data, hi, "transcript", sid, ctxs=[ctx])
    audit = [Event({"type": "user", "message": {"role": "user", "content": prompt}, "session_id": cli}, ctx)]
    write_audit(lap, f"{sdir}/audit.jsonl", audit, start=lo, end=hi, session_id=sid)
    lap.add(f"{sdir}/outputs/digest.md", b"# Weekly digest\n\nNothing new.\n", hi, "output", sid)


def bulk_session(lap: Laptop, user: OSUser, root: str, *, account: Account, org: tuple[str, str], target: int) -> None:
    """A noise-only Cowork session of roughly `target` bytes (transcript plus its audit mirror)."""
    rng = lap.rng
    created, last = lap.times()
    sid = "local_" + new_uuid(rng)
    cli = new_uuid(rng)
    process = _process_name(rng)
    cwd = f"/sessions/{process}"
    base = cowork_base(root, org)
    ctx = lap.ctx()
    email, name = _owner_fields(lap, ctx, account)
    record = {
        "sessionId": sid,
        "cliSessionId": cli,
        "processName": process,
        "cwd": cwd,
        "createdAt": created,
        "lastActivityAt": last,
        "title": rng.choice(lap.pool.titles),
        "initialMessage": rng.choice(lap.pool.prompts),
        "emailAddress": email,
        "accountName": name,
        "model": MODEL,
        "sessionType": "local",
        "isArchived": rng.random() < 0.2,
    }
    lap.add(f"{base}/{sid}.json", render_json(record, [ctx]), last, "session_record", sid, ctxs=[ctx])
    events: list[Event] = []
    audit: list[Event] = []
    estimate = 0
    while estimate < target:
        turn = noise_turn(lap)
        events.extend(turn)
        size = sum(len(str(e.body)) for e in turn) + 1400
        estimate += size
        if rng.random() < 0.4:
            audit.extend(noise_audit(lap, cli, turn))
            estimate += size
    sdir = f"{base}/{sid}"
    data, _ = render_transcript(
        events, rng=rng, session_id=cli, cwd=cwd, entrypoint="local-agent", start_ms=created, end_ms=last
    )
    lap.add(f"{sdir}/.claude/projects/-sessions-{process}/{cli}.jsonl", data, last, "transcript", sid)
    if audit:
        write_audit(lap, f"{sdir}/audit.jsonl", audit, start=created, end=last, session_id=sid)
    lap.add_session(
        user, sid, app="cowork", kind="bulk", account=account, created=created, last=last, root=root, cli_ids=[cli]
    )


def org_files(
    lap: Laptop, user: OSUser, root: str, *, account: Account, org: tuple[str, str], sessions: Sequence[str], mtime: int
) -> None:
    """spaces.json, artifacts.json, scheduled-tasks.json, cowork_account_settings.json, memory notes."""
    rng = lap.rng
    base = cowork_base(root, org)
    space_id = new_uuid(rng)
    c = lap.ctx()
    s = lap.subject()
    spaces = {
        "spaces": [
            {
                "id": space_id,
                "name": "Customer replies",
                "createdAt": mtime - 30 * DAY_MS,
                "members": [
                    {"email": c.use(s, "email"), "role": "viewer"},
                    {"email": lap.party().email, "role": "editor"},
                ],
            }
        ]
    }
    lap.add(f"{base}/spaces.json", render_json(spaces, [c]), mtime, "org_file", None, ctxs=[c])
    c = lap.ctx()
    s = lap.subject()
    artifacts: dict[str, list[dict[str, object]]] = {
        "artifacts": [
            {"id": new_uuid(rng), "sessionId": sid, "title": f"Notes {i}", "path": "outputs/reply-draft.md"}
            for i, sid in enumerate(sessions)
        ]
    }
    artifacts["artifacts"].append(
        {
            "id": new_uuid(rng),
            "sessionId": sessions[0] if sessions else None,
            "title": f"Call sheet for {c.use(s, 'name')}",
            "path": "outputs/call.md",
        }
    )
    lap.add(f"{base}/artifacts.json", render_json(artifacts, [c]), mtime, "org_file", None, ctxs=[c])
    c = lap.ctx()
    s = lap.subject()
    tasks = {
        "scheduledTasks": [
            {
                "id": new_uuid(rng),
                "cron": "0 9 * * 1",
                "enabled": True,
                "prompt": f"Remind me to call {c.use(s, 'name')} on {c.use(s, 'phone')}",
                "lastRunSessionId": sessions[-1] if sessions else None,
            }
        ]
    }
    lap.add(f"{base}/scheduled-tasks.json", render_json(tasks, [c]), mtime, "org_file", None, ctxs=[c])
    c = lap.ctx()
    email, name = _owner_fields(lap, c, account)
    settings: dict[str, object] = {
        "emailAddress": email,
        "displayName": name,
        "memoryEnabled": True,
        "accountUuid": account.uuid,
        "organizationUuid": org[1],
    }
    if account.subject is not None:
        settings["accountUuid"] = c.use(account.subject, "user_id", form="account_uuid")
    lap.add(f"{base}/cowork_account_settings.json", render_json(settings, [c]), mtime, "org_file", None, ctxs=[c])
    # memory
    c = lap.ctx(text=True)
    s = lap.subject()
    note = (
        f"# Memory\n\n- Works with {c.use(s, 'name')} on the {rng.choice(lap.pool.titles).lower()}.\n"
        f"- Prefers short answers.\n- {lap.party().name} approves invoices.\n"
    )
    lap.add(f"{base}/memory/CLAUDE.md", note.encode("utf-8"), mtime, "memory", None, ctxs=[c])
    c = lap.ctx(text=True)
    s = lap.subject()
    people = (
        f"# People\n\n## {c.use(s, 'name')}\n- e-mail: {c.use(s, 'email')}\n- phone: {c.use(s, 'phone')}\n"
        f"- id: {c.use(s, 'user_id')}\n\n## {lap.party().name}\n- finance\n"
    )
    lap.add(f"{base}/memory/memory/people.md", people.encode("utf-8"), mtime, "memory", None, ctxs=[c])
    c = lap.ctx(text=True)
    s = lap.subject()
    lap.add(
        f"{base}/spaces/{space_id}/memory/MEMORY.md",
        b"# Space memory\n\n- [customers](customers.md)\n",
        mtime,
        "memory",
        None,
    )
    space_note = f"# Customers\n\n- {c.use(s, 'name')} escalated the renewal; reply via {c.use(s, 'email')}\n"
    lap.add(
        f"{base}/spaces/{space_id}/memory/customers.md", space_note.encode("utf-8"), mtime, "memory", None, ctxs=[c]
    )
    lap.add(
        f"{root}/local-agent-mode-sessions/skills-plugin/manifest.json",
        render_json({"skills": ["pdf", "xlsx"]}, []),
        mtime,
        "other",
        None,
    )


def trap_note(lap: Laptop, root: str, org: tuple[str, str], mtime: int) -> None:
    """A memory note listing only look-alikes of the first subject."""
    traps = subject_traps(lap.subjects[0])
    text = "# Similar contacts (not the same people)\n\n" + "".join(
        f"- {t.literal} ({lap.party().name})\n" for t in traps
    )
    lap.add(
        f"{cowork_base(root, org)}/memory/memory/lookalikes.md",
        text.encode("utf-8"),
        mtime,
        "memory",
        None,
        traps=traps,
    )


def code_tab_and_cli(lap: Laptop, user: OSUser, root: str, *, account: Account, org: tuple[str, str]) -> None:
    """A Code-tab session (record + ~/.claude transcript), a CLI session, and every ~/.claude store."""
    rng = lap.rng
    claude = f"{user.home}/.claude"
    history: list[tuple[int, dict[str, object], Ctx | None]] = []
    # Code-tab session
    created, last = lap.times()
    sid = "local_" + new_uuid(rng)
    cli = new_uuid(rng)
    cwd = f"{user.home}/Projects/{rng.choice(_NOUN)}-service"
    cwd_native = native_path(user.os, cwd)
    slug = slug_for(user.os, cwd)
    c = lap.ctx()
    s = lap.subject()
    record = {
        "sessionId": sid,
        "cliSessionId": cli,
        "cwd": cwd_native,
        "originCwd": cwd_native,
        "createdAt": created,
        "lastActivityAt": last,
        "title": rng.choice(lap.pool.titles),
        "model": MODEL,
        "permissionMode": "acceptEdits",
        "recap": f"Fixed the export and e-mailed {c.use(s, 'name')} the result.",
        "postTurnSummary": f"Tests pass; waiting for {c.use(s, 'email')} to confirm.",
        "previousTitles": [rng.choice(lap.pool.titles)],
    }
    lap.add(
        f"{root}/claude-code-sessions/{org[0]}/{org[1]}/{sid}.json",
        render_json(record, [c]),
        last,
        "code_session_record",
        sid,
        ctxs=[c],
    )
    tc = lap.ctx()
    s = lap.subject()
    prompt = f"The export for {tc.use(s, 'name')} is missing the phone column ({tc.use(s, 'phone')})"
    events = [Event(user_body(prompt), tc), *noise_turn(lap), *noise_turn(lap)]
    data, _ = render_transcript(
        events, rng=rng, session_id=cli, cwd=cwd_native, entrypoint="claude-desktop", start_ms=created, end_ms=last
    )
    lap.add(f"{claude}/projects/{slug}/{cli}.jsonl", data, last, "transcript", cli, ctxs=[tc])
    lap.add_session(
        user,
        sid,
        app="claude-code",
        kind="code_tab",
        account=account,
        created=created,
        last=last,
        root=root,
        cli_ids=[cli],
    )
    history.append((created, {"display": prompt, "pastedContents": {}, "project": cwd_native, "sessionId": cli}, tc))
    # CLI session
    created, last = lap.times()
    cli2 = new_uuid(rng)
    tc = lap.ctx()
    s = lap.subject()
    prompt = f"rename the field for {tc.use(s, 'user_id')} and keep {tc.use(s, 'email')} as contact"
    events = [Event(user_body(prompt), tc), *noise_turn(lap)]
    data, _ = render_transcript(
        events, rng=rng, session_id=cli2, cwd=cwd_native, entrypoint="cli", start_ms=created, end_ms=last
    )
    lap.add(f"{claude}/projects/{slug}/{cli2}.jsonl", data, last, "transcript", cli2, ctxs=[tc])
    lap.add_session(
        user,
        cli2,
        app="claude-code",
        kind="cli",
        account=account,
        created=created,
        last=last,
        root=claude,
        cli_ids=[cli2],
    )
    history.append((created, {"display": prompt, "pastedContents": {}, "project": cwd_native, "sessionId": cli2}, tc))
    pc = lap.ctx()
    s = lap.subject()
    pasted = f"From: {pc.use(s, 'name')} <{pc.use(s, 'email')}>\nSubject: renewal\n\nCall me on {pc.use(s, 'phone')}"
    history.append(
        (
            created + 60_000,
            {
                "display": "[Pasted text #1 +4 lines] summarise this",
                "pastedContents": {"1": {"id": 1, "type": "text", "content": pasted}},
                "project": cwd_native,
                "sessionId": cli2,
            },
            pc,
        )
    )
    for _ in range(rng.randint(3, 8)):
        when = rng.randint(created, last)
        history.append(
            (
                when,
                {
                    "display": rng.choice(lap.pool.prompts),
                    "pastedContents": {},
                    "project": cwd_native,
                    "sessionId": cli2,
                },
                None,
            )
        )
    history.sort(key=lambda item: item[0])
    lines = []
    ctxs = []
    for when, entry, hctx in history:
        lines.append(compact({**entry, "timestamp": when}, ascii_only=hctx.ascii if hctx else False))
        if hctx is not None:
            ctxs.append(hctx)
    lap.add(
        f"{claude}/history.jsonl",
        ("\n".join(lines) + "\n").encode("utf-8"),
        history[-1][0],
        "prompt_history",
        None,
        ctxs=ctxs,
    )
    # paste cache, file history, plans, todos, shell snapshot, project memory
    c = lap.ctx(text=True)
    s = lap.subject()
    paste = f"From: {c.use(s, 'name')}\nTel. {c.use(s, 'phone')}\n\nPlease update my address.\n"
    digest = hashlib.sha256(paste.encode("utf-8")).hexdigest()[:16]
    lap.add(f"{claude}/paste-cache/{digest}.txt", paste.encode("utf-8"), last, "paste_cache", None, ctxs=[c])
    c = lap.ctx(text=True)
    s = lap.subject()
    before = f"# Contacts\n\n| name | email |\n|---|---|\n| {c.use(s, 'name')} | {c.use(s, 'email')} |\n"
    lap.add(
        f"{claude}/file-history/{cli2}/{hex_id(rng, 16)}@v1",
        before.encode("utf-8"),
        last,
        "file_history",
        cli2,
        ctxs=[c],
    )
    c = lap.ctx(text=True)
    s = lap.subject()
    plan = (
        f"# Plan\n\n1. Export the accounts of {c.use(s, 'name')}\n2. Check the phone {c.use(s, 'phone')}\n"
        f"3. Ask {lap.party().name} to sign off\n"
    )
    lap.add(f"{claude}/plans/{_process_name(rng)}.md", plan.encode("utf-8"), last, "plan", None, ctxs=[c])
    c = lap.ctx()
    s = lap.subject()
    todos = [
        {"content": f"E-mail {c.use(s, 'name')} the export", "status": "pending", "activeForm": "E-mailing the export"},
        {"content": "Run the tests", "status": "completed", "activeForm": "Running the tests"},
    ]
    lap.add(f"{claude}/todos/{cli2}-agent-{cli2}.json", render_json(todos, [c]), last, "todo", cli2, ctxs=[c])
    c = lap.ctx(text=True)
    s = lap.subject()
    snapshot = (
        f"# Snapshot file\nunalias -a\nexport PATH=/usr/local/bin:/usr/bin:/bin\n"
        f"export SUPPORT_CONTACT='{c.use(s, 'email')}'\nalias gs='git status'\n"
    )
    lap.add(
        f"{claude}/shell-snapshots/snapshot-zsh-{last}-{hex_id(rng, 6)}.sh",
        snapshot.encode("utf-8"),
        last,
        "shell_snapshot",
        None,
        ctxs=[c],
    )
    c = lap.ctx(text=True)
    s = lap.subject()
    memo = f"# Project memory\n\n- Escalations go to {c.use(s, 'name')} ({c.use(s, 'phone')}).\n"
    lap.add(f"{claude}/projects/{slug}/memory/notes.md", memo.encode("utf-8"), last, "project_memory", None, ctxs=[c])
    # ~/.claude.json
    c = lap.ctx()
    email, name = _owner_fields(lap, c, account)
    uuid_text = c.use(account.subject, "user_id", form="account_uuid") if account.subject is not None else account.uuid
    s = lap.subject()
    claude_json = {
        "numStartups": rng.randint(3, 400),
        "installMethod": "native",
        "userID": hex_id(rng, 64),
        "oauthAccount": {
            "accountUuid": uuid_text,
            "emailAddress": email,
            "organizationUuid": org[1],
            "displayName": name,
            "organizationRole": "user",
        },
        "projects": {
            cwd_native: {
                "allowedTools": [],
                "history": [{"display": f"ask {c.use(s, 'name')} about the release", "pastedContents": {}}],
            }
        },
    }
    lap.add(f"{user.home}/.claude.json", render_json(claude_json, [c]), last, "claude_json", None, ctxs=[c])
    # ~/Claude/ user-visible outputs
    c = lap.ctx(text=True)
    s = lap.subject()
    minutes = (
        f"# Meeting notes\n\nAttendees: {c.use(s, 'name')}, {lap.party().name}\n\n{rng.choice(lap.pool.answers)}\n"
    )
    lap.add(
        f"{user.home}/Claude/Meeting notes {iso_ms(last)[:10]}.md",
        minutes.encode("utf-8"),
        last,
        "user_output",
        None,
        ctxs=[c],
    )


def logs_and_residue(lap: Laptop, user: OSUser, root: str, *, account: Account, mtime: int) -> None:
    """main.log (local time without zone) and residual stores (VM image, IndexedDB, Local/Session Storage)."""
    rng = lap.rng
    log_path = f"{user.home}/Library/Logs/Claude/main.log" if user.os == "macos" else f"{root}/logs/main.log"
    c = lap.ctx(text=True)
    zone = ZoneInfo(_LOG_ZONES[user.os])
    start = mtime - 3 * DAY_MS
    signed_in = c.use(account.subject, "email", form="email_lower") if account.subject else account.email
    s = lap.subject()
    messages = [f"cowork: vm heartbeat ok ({rng.randint(20, 90)} ms)" for _ in range(rng.randint(20, 60))]
    messages[3] = f"auth: signed in as {signed_in}"
    messages[9] = f"share: invite to {c.use(s, 'email')} is pending"
    lines = []
    for i, message in enumerate(messages):
        # Log lines use local time without a zone (docs/histories.md)
        local = datetime.fromtimestamp((start + i * 61_337) / 1000, tz=zone)
        stamp = local.strftime("%Y-%m-%d %H:%M:%S.") + f"{local.microsecond // 1000:03d}"
        level = "warn" if message.startswith("share") else "info"
        lines.append(f"[{stamp}] [{level}] {message}")
    lap.add(log_path, ("\n".join(lines) + "\n").encode("utf-8"), mtime, "log", None, ctxs=[c])
    lap.add(f"{root}/vm_bundles/claudevm.bundle/sessiondata.img", rng.randbytes(64 * 1024), mtime, "residual", None)
    lap.add(
        f"{root}/IndexedDB/https_claude.ai_0.indexeddb.leveldb/000003.log",
        rng.randbytes(8 * 1024),
        mtime,
        "residual",
        None,
    )
    lap.add(f"{root}/Local Storage/leveldb/000003.log", rng.randbytes(4 * 1024), mtime, "residual", None)
    lap.add(f"{root}/Session Storage/000003.log", rng.randbytes(2 * 1024), mtime, "residual", None)


def service_log(lap: Laptop, users: Sequence[OSUser], mtime: int) -> None:
    """Windows `C:\\ProgramData\\Claude\\Logs\\coworkd\\coworkd.log`: the machine-wide service log."""
    c = lap.ctx(text=True)
    zone = ZoneInfo(_LOG_ZONES["windows"])
    lines = []
    start = mtime - DAY_MS
    for i in range(lap.rng.randint(15, 40)):
        local = datetime.fromtimestamp((start + i * 97_531) / 1000, tz=zone)
        stamp = local.strftime("%Y-%m-%d %H:%M:%S.") + f"{local.microsecond // 1000:03d}"
        user = users[i % len(users)]
        lines.append(f"{stamp} INFO coworkd: vm ready for session of {user.name} ({lap.rng.randint(2, 40)} s)")
    s = lap.subject()
    local = datetime.fromtimestamp((start + 5_000) / 1000, tz=zone)
    stamp = local.strftime("%Y-%m-%d %H:%M:%S.") + f"{local.microsecond // 1000:03d}"
    lines.insert(2, f"{stamp} WARN coworkd: mount denied for shared folder of {c.use(s, 'email')}")
    data = ("\n".join(lines) + "\n").encode("utf-8")
    lap.add("/C:/ProgramData/Claude/Logs/coworkd/coworkd.log", data, mtime, "log", None, ctxs=[c])
