"""`dsr request run ID` and `dsr request report ID`: run a request's flow with a progress bar; find its package.

With `PREFECT_API_URL` set, the served deployment runs the flow and this command follows its progress in the
case database. Otherwise the flow runs in this process against the local Prefect server of `dsr server start`
when it answers, else against a temporary server that ends with this command (`dsr.prefect_api`).

A request runs once at a time and a closed request never runs again: the command holds the request's run
lock (`models.run_lock`) for the whole local run, and refuses at once, in one line, when another run holds it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dsr.context import err, out, print_json, state
from models.errors import InputError
from models.flow_names import ACCESS_DEPLOYMENT, ERASURE_DEPLOYMENT, ERASURE_RUN
from models.types import RequestKind

if TYPE_CHECKING:
    from dsr.prefect_api import PrefectApi

#: Longest wait for Prefect's log and event workers to send what they hold before the API is left.
DRAIN_SECONDS = 30.0


def _progress_counts(request_id: str) -> tuple[int, int, str]:
    from services.fanout import location_counts  # noqa: PLC0415 - loads detection on demand

    counts = location_counts(state.settings, request_id)  # one grouped count, however large the fleet
    return counts.done, counts.total, counts.status


def _follow(request_id: str, finished: threading.Event) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: PLC0415

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task(f"{request_id} locations", total=None)
        while True:
            done, total, status = _progress_counts(request_id)
            bar.update(task, completed=done, total=max(total, 1), description=f"{request_id} {status}")
            if finished.wait(0.5):
                done, total, status = _progress_counts(request_id)
                bar.update(task, completed=done, total=max(total, 1), description=f"{request_id} {status}")
                return


@contextmanager
def against_api(api: PrefectApi) -> Iterator[None]:
    """Point this process's Prefect client at the API (with its credential), and the flow at this configuration,
    for the block."""
    from prefect.settings import (  # noqa: PLC0415
        PREFECT_API_AUTH_STRING,
        PREFECT_API_KEY,
        PREFECT_API_URL,
        PREFECT_HOME,
        temporary_settings,
    )

    names = ("PREFECT_API_URL", "PREFECT_HOME", "DSR_CONFIG", "PREFECT_API_AUTH_STRING", "PREFECT_API_KEY")
    saved = {name: os.environ.get(name) for name in names}
    os.environ["PREFECT_API_URL"] = api.url
    os.environ["PREFECT_HOME"] = str(state.settings.prefect.home)
    os.environ.pop("PREFECT_API_KEY", None)  # a Prefect Cloud key would take precedence over the credential
    if api.credential is not None:
        os.environ["PREFECT_API_AUTH_STRING"] = api.credential
    if state.settings.source is not None:  # the flow reads the configuration `--config` named, not ./dsr.toml
        os.environ["DSR_CONFIG"] = str(state.settings.source.resolve())
    updates: dict[Any, Any] = {PREFECT_API_URL: api.url, PREFECT_HOME: state.settings.prefect.home}
    unset: list[Any] = [PREFECT_API_KEY]
    if api.credential is None:
        unset.append(PREFECT_API_AUTH_STRING)
    else:
        updates[PREFECT_API_AUTH_STRING] = api.credential
    try:
        with temporary_settings(updates=updates, restore_defaults=unset):
            try:
                yield
            finally:
                _drain_prefect_workers()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _drain_prefect_workers() -> None:
    """Send the run's queued logs and events while the API still answers: a temporary server is stopped next,
    and Prefect's exit handlers would otherwise retry against it for a minute."""
    from prefect.events.worker import EventsWorker  # noqa: PLC0415
    from prefect.logging.handlers import APILogWorker  # noqa: PLC0415

    for worker in (APILogWorker, EventsWorker):
        with contextlib.suppress(Exception):
            worker.drain_all(timeout=DRAIN_SECONDS)


def _run_access(request_id: str, *, served: bool, allow_incomplete_register: bool = False) -> dict[str, Any]:
    parameters: dict[str, Any] = {"request_id": request_id}
    if allow_incomplete_register:
        parameters["allow_incomplete_register"] = True
    if served:
        from prefect.deployments import run_deployment  # noqa: PLC0415

        finished = threading.Event()
        follower = threading.Thread(target=_follow, args=(request_id, finished), daemon=True)
        follower.start()
        try:
            flow_run = run_deployment(ACCESS_DEPLOYMENT, parameters=parameters, timeout=None)
        finally:
            finished.set()
            follower.join()
        state_name = flow_run.state.name if flow_run.state else "unknown"  # type: ignore[union-attr]
        return {"request_id": request_id, "flow_run": str(flow_run.id), "state": state_name}  # type: ignore[union-attr]
    from flows.access import access_request  # noqa: PLC0415

    finished = threading.Event()
    follower = threading.Thread(target=_follow, args=(request_id, finished), daemon=True)
    follower.start()
    try:
        result: dict[str, Any] = access_request(request_id, allow_incomplete_register=allow_incomplete_register)
    finally:
        finished.set()
        follower.join()
    return result


def _run_erasure(request_id: str, *, served: bool) -> dict[str, Any]:
    if served:
        from prefect.deployments import run_deployment  # noqa: PLC0415

        flow_run = run_deployment(ERASURE_DEPLOYMENT, parameters={"request_id": request_id}, timeout=0)
        run_name = ERASURE_RUN.format(request_id=request_id)
        err.print(
            f"started {run_name} on the Prefect server; it pauses for approval in the UI "
            f"(or `dsr request approve {request_id} --by NAME`)"
        )
        return {"request_id": request_id, "flow_run": str(flow_run.id), "state": "scheduled"}  # type: ignore[union-attr]
    from flows.erasure_request import erasure_request  # noqa: PLC0415

    result: dict[str, Any] = erasure_request(request_id, wait_for_approval=False)
    return result


def _import_flow(kind: RequestKind) -> None:
    """Import Prefect, its flow and task engines and the request's flow (seconds of imports: Prefect, the
    detection stack) while a temporary Prefect server boots, rather than after it answers."""
    from fastapi import encoders  # noqa: F401, PLC0415 - Prefect encodes a flow run's parameters with it
    from prefect import flow_engine, task_engine  # noqa: F401, PLC0415 - only for a local run

    if kind is RequestKind.ERASURE:
        from flows import erasure_request  # noqa: F401, PLC0415
    else:
        from flows import access  # noqa: F401, PLC0415


def _blocked_error(request_id: str, since: datetime) -> InputError | None:
    """Why this run's attempt to issue the request's package was blocked (register or release check), if it was
    (read from the audit trail: the reasons never go through Prefect)."""
    from models import cases  # noqa: PLC0415 - the database layer on demand

    with state.db() as session:
        request = cases.get_request(session, request_id)
        if request.report_path is not None:
            return None
        register, release = cases.last_issue_checks(session, request_id)
    register = register if register is not None and _aware(register.at) >= since else None
    release = release if release is not None and _aware(release.at) >= since else None
    if register is not None and register.outcome == "blocked" and (release is None or release.at < register.at):
        missing = json.loads(register.details).get("missing", [])
        return InputError(
            f"{request_id}: not issued: the processing register does not answer every Art. 15 point for the data "
            f"found; set these keys: {', '.join(missing)} (see dsr.example.toml), or run again with "
            "--allow-incomplete-register (the report then says those answers are being completed)"
        )
    if release is not None and release.outcome == "blocked":
        items = json.loads(release.details).get("items", [])
        shown = "; ".join(f"{i['item']} {i['file']} {i['place']} {i['reason']}" for i in items[:10])
        more = f" and {len(items) - 10} more" if len(items) > 10 else ""
        return InputError(
            f"{request_id}: not issued: the release check found {len(items)} place(s) that may hold other people's "
            f"data: {shown}{more}. Read them with `dsr request export {request_id} --draft --out DIR` (or `dsr "
            f"request show {request_id}`), then redact more ([directory]) or release an item with `dsr request "
            f"release-item {request_id} ITEM --reason TEXT`, and run again"
        )
    return None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def run(
    request_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as one JSON document.")] = False,
    allow_incomplete_register: Annotated[
        bool,
        typer.Option(
            "--allow-incomplete-register",
            help="Issue the access package even when the register does not answer every point; the report then "
            "says those answers are being completed (default: [access].allow_incomplete_register).",
        ),
    ] = False,
) -> None:
    """Run the request's flow with a progress bar (on the local Prefect server, the one in PREFECT_API_URL, or a
    temporary one); refused at once if the request is closed or another run of it is under way."""
    from dsr.prefect_api import explicit_api_auth, explicit_api_url, prefect_api  # noqa: PLC0415 - only here
    from models import cases  # noqa: PLC0415 - the database layer on demand
    from models.identity import require_identity  # noqa: PLC0415
    from models.run_lock import check_open, hold_for_run  # noqa: PLC0415

    with state.db() as session:
        request = cases.get_request(session, request_id)
        kind = RequestKind(request.kind)
        if kind not in (RequestKind.ACCESS, RequestKind.PORTABILITY, RequestKind.ERASURE):
            raise InputError(
                f"request {request_id} is a {kind.value} request: it is handled by hand (record the outcome with "
                "`dsr request refuse` or complete it in the case database); only access, portability and erasure "
                "have flows"
            )
        check_open(request)
        require_identity(request, "run")
    # A missing or unwritable key store fails here, in one line, rather than inside the flow run.
    state.master_key()
    state.hmac_key()
    started = time.monotonic()
    started_at = datetime.now(UTC)
    database = state.settings.database.url

    def runner(served: bool) -> dict[str, Any]:
        if kind is RequestKind.ERASURE:
            return _run_erasure(request_id, served=served)
        return _run_access(request_id, served=served, allow_incomplete_register=allow_incomplete_register)

    if explicit_api_url():
        with hold_for_run(database, request_id):
            pass  # another run under way is refused here; the served flow takes the lock for its own run
        with explicit_api_auth(state.settings):
            outcome = runner(served=True)
    else:
        imports = functools.partial(_import_flow, kind)  # while a temporary server boots
        with hold_for_run(database, request_id), prefect_api(state.settings, imports) as api, against_api(api):
            outcome = runner(served=False)
    outcome["seconds"] = round(time.monotonic() - started, 1)
    if kind in (RequestKind.ACCESS, RequestKind.PORTABILITY):
        blocked = _blocked_error(request_id, started_at)
        if blocked is not None:
            raise blocked
    if as_json:
        print_json(outcome)
        return
    with state.db() as session:
        detail = cases.request_detail(session, cases.get_request(session, request_id), state.today())
    out.print(f"{request_id}: {detail['status']}")
    pending = [loc["name"] for loc in detail["locations"] if loc["status"] in ("pending", "unreachable", "busy")]
    if pending:
        out.print(f"pending locations (the sweep retries them): {', '.join(pending)}")
    if detail["report"]:
        out.print(f"package: {detail['report']}")


def report(
    request_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Print the path of the request's access package (exit 1 if it has not been issued yet)."""
    from models import cases  # noqa: PLC0415 - the database layer on demand

    with state.db() as session:
        request = cases.get_request(session, request_id)
        path, digest = request.report_path, request.package_sha256
    if path is None:
        raise InputError(f"request {request_id} has no package yet; run `dsr request run {request_id}`")
    if as_json:
        print_json({"id": request_id, "report": path, "package_sha256": digest})
    else:
        out.print(path, markup=False, highlight=False)
        err.print(
            f"{request_id}: the access package, sealed (encrypted) for delivery; "
            f"`dsr request export {request_id} --out DIR` decrypts it into DIR/{request_id}/ to hand over",
            markup=False,
            highlight=False,
        )


def export(
    request_id: Annotated[str, typer.Argument(metavar="ID")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to unpack the decrypted package into.")],
    draft: Annotated[
        bool,
        typer.Option("--draft", help="Unpack the draft the release check blocked (for the reviewer, not the person)."),
    ] = False,
) -> None:
    """Decrypt the request's sealed package into DIR/<ID>/ for delivery to the person (mode 0700); prints every
    file written."""
    from models import cases  # noqa: PLC0415 - the database layer on demand
    from models.identity import require_identity  # noqa: PLC0415
    from services.staging import draft_path, open_package  # noqa: PLC0415 - loads crypto on demand
    from services.subject import request_key  # noqa: PLC0415

    with state.db() as session:
        request = cases.get_request(session, request_id)
        require_identity(request, "exported")
        path = request.report_path
    if draft:
        sealed = draft_path(state.settings.access.package_dir, request_id)
        if not sealed.exists():
            raise InputError(f"request {request_id} has no blocked draft; `dsr request show {request_id}` says why")
    else:
        if path is None:
            raise InputError(f"request {request_id} has no package yet; run `dsr request run {request_id}`")
        sealed = Path(path)
        if not sealed.exists():
            raise InputError(f"the package of {request_id} is gone ({sealed.name}); it was deleted after delivery")
    target = open_package(sealed, request_key(state.settings, request_id), request_id, out_dir)
    for written in sorted(p for p in target.rglob("*") if p.is_file()):
        out.print(str(written), markup=False, highlight=False)
    err.print(f"{request_id}: {'draft for review' if draft else 'package'} unpacked into {target}")
