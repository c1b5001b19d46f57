"""Retention execution: a purge plan carried out by the erasure executor, under a retention mandate.

The executor is shared through its neutral `Mandate` (who asked, why, how entries are labelled): deletions
are recorded as `purge` with the executor's operation in `details.operation`, no request id, and the
retention policy's name and version. Expired records of `redact` policies are dropped here with the same
safety rules (busy check, compare-and-swap, atomic replace, crash-safe rerun). Conversations kept as rows
of an agent's database are deleted here too, database by database, with the procedure erasure uses for
rows (`connectors.sqlite_store`); each disposed conversation gets its own `purge` entry, each held or
frozen one its own `exception` entry.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from connectors.agents import agent_layout
from connectors.base import CHUNK_SIZE, Connector, Expected, Item, temp_name
from connectors.sqlite_store import delete_rows, iter_db_records, private_copy
from erasure.executor import (
    ActionOutcome,
    ActionStatus,
    EntryLabel,
    ExecutionReport,
    KillHook,
    Mandate,
    execute_plan,
    remove_own_temp_file,
    temp_tag,
)
from erasure.plan import ActionKind
from erasure.proof_path import path_fields, proof_path
from erasure.rewrite import drop_lines
from models.errors import (
    BusyError,
    ConnectorError,
    ItemNotFoundError,
    UnsupportedOperationError,
    VersionConflictError,
)
from proofs.entry import JSONValue
from proofs.ledger import Ledger, LedgerAction, ProofRecord
from retention.plan import (
    FREEZE_GROUND,
    HOLD_GROUND,
    PurgeCandidate,
    PurgePlan,
    PurgeStatus,
    PurgeUnit,
    drops_lines,
    executed_by_purge,
    to_action,
)

# -- execution -------------------------------------------------------------------------------------------

WHY = "retention"


def mandate(plan: PurgePlan, actor: str) -> Mandate:
    """The executor's mandate for a purge: asked by `actor` for retention, no request, deletions recorded as
    `purge`, each action labelled with its policy's name and version."""
    labels = {
        to_action(c).action_id: EntryLabel(policy_label(c), _details(c))
        for c in plan.candidates
        if not executed_by_purge(c)
    }
    return Mandate(
        asked_by=actor,
        why=WHY,
        request_id=None,
        label=EntryLabel(WHY),
        action_labels=labels,
        deletions_as=LedgerAction.PURGE,
    )


def _details(cand: PurgeCandidate) -> dict[str, JSONValue]:
    """What a purge entry says beyond the executor's own fields: the policy, the conversation and, for a
    deletion, each file's path and hash (never content), so that the proof of disposal is built from the ledger."""
    details: dict[str, JSONValue] = {"policy": cand.policy}
    if cand.session_id:
        details["session_id"] = proof_path(cand.session_id)
    if cand.status is PurgeStatus.PURGE:
        details["files"] = [{"path": proof_path(f.path), "sha256": f.sha256} for f in cand.files]
    return details


def policy_label(cand: PurgeCandidate) -> str:
    """The `policy_version` of a candidate's entries: `retention:<policy>@<version>`."""
    return f"retention:{cand.policy}@{cand.policy_version}"


def execute_purge(
    plan: PurgePlan,
    *,
    connectors: Callable[[str], Connector],
    ledger: Ledger,
    run_id: str,
    actor: str,
    kill_hook: KillHook | None = None,
) -> ExecutionReport:
    """Carry out a purge plan with the erasure executor: busy check per endpoint, compare-and-swap per file,
    crash-safe reruns, one ledger entry per deletion (action `purge`) and per kept item (`exception`).

    Expired records of `redact` policies are dropped here with the same rules (busy check, compare-and-swap
    on the planned hash, atomic replace, a rerun after a crash recognised by the planned result hash).

    Args:
        plan: the purge plan.
        connectors: opens the connector of a location name.
        ledger: the proof ledger.
        run_id: the flow run.
        actor: the acting identity.
        kill_hook: passed to the executor (tests simulate crashes with it).
    """
    erasure_plan = plan.to_erasure_plan()
    report = execute_plan(
        erasure_plan,
        connectors=connectors,
        matcher=None,
        ledger=ledger,
        run_id=run_id,
        mandate=mandate(plan, actor),
        kill_hook=kill_hook,
    )
    dropped = _drop_expired_lines(plan, connectors, ledger, run_id, actor)
    rows = _purge_rows(plan, connectors, ledger, run_id, actor)
    return ExecutionReport(report.request_id, report.plan_digest, run_id, report.outcomes + tuple(dropped + rows))


def _drop_key(cand: PurgeCandidate) -> str:
    body = json.dumps([cand.location, cand.path, cand.files[0].sha256, list(cand.lines)], separators=(",", ":"))
    return "retention:drop_lines:" + hashlib.sha256(body.encode("utf-8")).hexdigest()


def _outcome(cand: PurgeCandidate, status: ActionStatus, **fields: Any) -> ActionOutcome:
    return ActionOutcome(to_action(cand).action_id, ActionKind.REDACT, cand.location, cand.path, status, **fields)


def _drop_one(connector: Connector, cand: PurgeCandidate, ledger: Ledger, run_id: str, actor: str) -> ActionOutcome:
    """Drop one file's expired records: compare-and-swap on the planned hash, atomic replace, one proof entry."""
    key = _drop_key(cand)
    done = ledger.store.find(key)
    if done is not None:
        return _outcome(cand, ActionStatus.ALREADY_DONE, ledger_seq=done.seq)
    ref = cand.files[0]
    details: dict[str, Any] = {"operation": "drop_lines", "policy": cand.policy, "lines": list(cand.lines)}
    tag = temp_tag(None, key)
    leftover = remove_own_temp_file(connector, cand.path, tag)
    if leftover is not None:
        ledger.append(
            ProofRecord(
                action=LedgerAction.REMOVE_TEMP,
                run_id=run_id,
                location=cand.location,
                path=proof_path(leftover.path),
                sha256_before=leftover.sha256,
                counts={"files_deleted": 1, "bytes": leftover.size},
                actor=actor,
                policy_version=policy_label(cand),
                details={"for_path": proof_path(cand.path)},
            ),
            idempotency_key=f"{key}:remove_temp:{run_id}:{leftover.sha256}",
        )
    try:
        current = connector.stat(cand.path)
    except ItemNotFoundError:
        after, outcome = None, "already_absent"
    else:
        outcome = "done"
        with connector.open(current) as stream:
            data = b"".join(iter(lambda: stream.read(CHUNK_SIZE), b""))
        sha = hashlib.sha256(data).hexdigest()
        if sha == ref.sha256:
            new = drop_lines(data, cand.lines).data
            connector.replace(
                current, [new], Expected(current.size, current.version, sha), temp_name=temp_name(tag, cand.path)
            )
            after = hashlib.sha256(new).hexdigest()
        elif sha == cand.sha256_after:
            after = sha  # replaced by a run that died before its proof entry
            details["recovered"] = True
        else:
            raise VersionConflictError("file changed since the purge plan was made", path=cand.path)
    details.update(path_fields(cand.path))  # a hostile file name, escaped for the ledger
    record = ProofRecord(
        action=LedgerAction.PURGE,
        run_id=run_id,
        location=cand.location,
        path=proof_path(cand.path),
        sha256_before=ref.sha256,
        sha256_after=after,
        counts={"lines_removed": len(cand.lines)},
        outcome=outcome,
        actor=actor,
        policy_version=policy_label(cand),
        details=details,
    )
    entry = ledger.append(record, idempotency_key=key)
    return _outcome(cand, ActionStatus.DONE, ledger_seq=entry.seq, counts={"lines_removed": len(cand.lines)})


def _drop_expired_lines(
    plan: PurgePlan, connectors: Callable[[str], Connector], ledger: Ledger, run_id: str, actor: str
) -> list[ActionOutcome]:
    by_location: dict[str, list[PurgeCandidate]] = defaultdict(list)
    for cand in plan.candidates:
        if drops_lines(cand):
            by_location[cand.location].append(cand)
    outcomes: list[ActionOutcome] = []
    for location, cands in sorted(by_location.items()):
        try:
            connector = connectors(location)
        except ConnectorError as exc:
            outcomes.extend(_outcome(c, ActionStatus.FAILED, error=exc.status.value) for c in cands)
            continue
        with connector:
            try:
                busy = connector.activity().agent_running
            except ConnectorError as exc:
                outcomes.extend(_outcome(c, ActionStatus.FAILED, error=exc.status.value) for c in cands)
                continue
            for cand in cands:
                if busy:
                    # Never change a store while its app runs (docs/histories.md).
                    outcomes.append(_outcome(cand, ActionStatus.BUSY, error="busy"))
                    continue
                try:
                    outcomes.append(_drop_one(connector, cand, ledger, run_id, actor))
                except VersionConflictError:
                    outcomes.append(_outcome(cand, ActionStatus.CONFLICT, error="conflict"))
                except BusyError:
                    outcomes.append(_outcome(cand, ActionStatus.BUSY, error="busy"))
                except ConnectorError as exc:
                    outcomes.append(_outcome(cand, ActionStatus.FAILED, error=exc.status.value))
    return outcomes


# -- conversations kept as rows of a database ---------------------------------------------------------------


def _rows_key(cand: PurgeCandidate) -> str:
    body = json.dumps(
        [cand.location, cand.path, cand.files[0].sha256, cand.session_id, list(cand.records)], separators=(",", ":")
    )
    return "retention:delete_rows:" + hashlib.sha256(body.encode("utf-8")).hexdigest()


def _rows_outcome(cand: PurgeCandidate, status: ActionStatus, **fields: Any) -> ActionOutcome:
    kind = ActionKind.REDACT if cand.status is PurgeStatus.PURGE else ActionKind.EXCEPTION
    return ActionOutcome(to_action(cand).action_id, kind, cand.location, cand.path, status, **fields)


def _keep_rows(cand: PurgeCandidate, ledger: Ledger, run_id: str, actor: str) -> ActionOutcome:
    """The `exception` entry of a held or frozen conversation's rows (one per conversation and run)."""
    held = cand.status is PurgeStatus.RETAINED
    details: dict[str, JSONValue] = {
        "reason": "legal_hold" if held else FREEZE_GROUND,
        "policy": cand.policy,
        "session_id": proof_path(cand.session_id or ""),
        "rows": len(cand.records),
    }
    if cand.hold_id:
        details["hold_id"] = cand.hold_id
    details.update(path_fields(cand.path))
    record = ProofRecord(
        action=LedgerAction.EXCEPTION,
        run_id=run_id,
        location=cand.location,
        path=proof_path(cand.path),
        exception_ground=HOLD_GROUND if held else FREEZE_GROUND,
        outcome="kept",
        actor=actor,
        policy_version=policy_label(cand),
        details=details,
    )
    entry = ledger.append(record, idempotency_key=f"{_rows_key(cand)}:kept:{run_id}")
    return _rows_outcome(cand, ActionStatus.RECORDED, ledger_seq=entry.seq)


def _app_running(evidence: Sequence[str], app: str | None) -> bool:
    """Whether the agent's own app runs (its declared processes among the activity evidence)."""
    layout = agent_layout(app) if app else None
    names = {e.split(":", 1)[1] for e in evidence if e.startswith("app_process:")}
    return layout is not None and bool(names & set(layout.processes))


def _delete_conversations(
    connector: Connector, cands: Sequence[PurgeCandidate], ledger: Ledger, run_id: str, actor: str
) -> list[ActionOutcome]:
    """Delete the planned conversations' rows of one database in one transaction, then one `purge` entry each.

    Compare-and-swap on the planned hash of the database; a database that changed since planning is changed
    only when none of the planned rows is left in it (a run that died before its entries, or the app deleted
    them): then it is still vacuumed and the entries say `already_absent`. Otherwise: a conflict, untouched.
    """
    outcomes: list[ActionOutcome] = []
    todo: list[PurgeCandidate] = []
    for cand in cands:
        found = ledger.store.find(_rows_key(cand))
        if found is None:
            todo.append(cand)
        else:
            outcomes.append(_rows_outcome(cand, ActionStatus.ALREADY_DONE, ledger_seq=found.seq))
    if not todo:
        return outcomes
    path, planned = todo[0].path, todo[0].files[0].sha256
    local = getattr(connector, "database_path", None)
    if not callable(local):
        raise UnsupportedOperationError("databases are changed only on a local disk", code="database_report_only")
    wanted = {r for c in todo for r in c.records}
    result = None
    try:
        current = connector.stat(path)
    except ItemNotFoundError:
        outcome, after = "already_absent", None
    else:
        outcome = "done"
        if _file_sha(connector, current) != planned:
            with private_copy(connector, current) as copy:
                if any(r.record in wanted for r in iter_db_records(copy)):
                    raise VersionConflictError("database changed since the purge plan was made", path=path)
            outcome = "already_absent"
        result = delete_rows(Path(local(current)), lambda rec: rec.record in wanted)
        after = _file_sha(connector, connector.stat(path))
    for cand in todo:
        details: dict[str, JSONValue] = {
            "operation": "delete_rows",
            "policy": cand.policy,
            "session_id": proof_path(cand.session_id or ""),
            "app": cand.app,
            "records": list(cand.records),
            "files": [{"path": proof_path(path), "sha256": planned, "rows": len(cand.records)}],
        }
        if result is not None:
            details.update(fts_rebuilt=list(result.fts_rebuilt), vacuumed=True, wal_empty=result.wal_empty)
        details.update(path_fields(path))
        record = ProofRecord(
            action=LedgerAction.PURGE,
            run_id=run_id,
            location=cand.location,
            path=proof_path(path),
            sha256_before=planned,
            sha256_after=after,
            counts={"rows_deleted": len(cand.records)},
            outcome=outcome,
            actor=actor,
            policy_version=policy_label(cand),
            details=details,
        )
        entry = ledger.append(record, idempotency_key=_rows_key(cand))
        outcomes.append(_rows_outcome(cand, ActionStatus.DONE, ledger_seq=entry.seq))
    return outcomes


def _file_sha(connector: Connector, item: Item) -> str:
    digest = hashlib.sha256()
    with connector.open(item) as stream:
        for chunk in iter(lambda: stream.read(CHUNK_SIZE), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _purge_rows(
    plan: PurgePlan, connectors: Callable[[str], Connector], ledger: Ledger, run_id: str, actor: str
) -> list[ActionOutcome]:
    """Conversations kept as rows: held and frozen ones recorded as kept, expired ones deleted database by
    database (never while the laptop's agent or that agent's own app runs)."""
    outcomes: list[ActionOutcome] = []
    by_location: dict[str, dict[str, list[PurgeCandidate]]] = defaultdict(lambda: defaultdict(list))
    for cand in plan.candidates:
        if cand.unit is not PurgeUnit.ROWS:
            continue
        if cand.status is PurgeStatus.PURGE:
            by_location[cand.location][cand.path].append(cand)
        else:
            outcomes.append(_keep_rows(cand, ledger, run_id, actor))
    for location, databases in sorted(by_location.items()):
        every = [c for cands in databases.values() for c in cands]
        try:
            connector = connectors(location)
        except ConnectorError as exc:
            outcomes.extend(_rows_outcome(c, ActionStatus.FAILED, error=exc.status.value) for c in every)
            continue
        with connector:
            for _path, cands in sorted(databases.items()):
                outcomes.extend(_database(connector, cands, ledger, run_id, actor))
    return outcomes


def _database(
    connector: Connector, cands: Sequence[PurgeCandidate], ledger: Ledger, run_id: str, actor: str
) -> list[ActionOutcome]:
    try:
        activity = connector.activity()
        if activity.agent_running or _app_running(activity.evidence, cands[0].app):
            # Never change a store while its app runs (docs/histories.md).
            return [_rows_outcome(c, ActionStatus.BUSY, error="busy") for c in cands]
        return _delete_conversations(connector, cands, ledger, run_id, actor)
    except VersionConflictError:
        return [_rows_outcome(c, ActionStatus.CONFLICT, error="conflict") for c in cands]
    except BusyError:
        return [_rows_outcome(c, ActionStatus.BUSY, error="busy") for c in cands]
    except UnsupportedOperationError as exc:
        code = str(exc.fields.get("code", "unsupported"))
        return [_rows_outcome(c, ActionStatus.FAILED, error=code) for c in cands]
    except ConnectorError as exc:
        return [_rows_outcome(c, ActionStatus.FAILED, error=exc.status.value) for c in cands]
