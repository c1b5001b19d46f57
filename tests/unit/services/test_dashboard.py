"""The deadline dashboard (urgency order, pending locations, who holds it next) and the deadline alerts sent
through a webhook receiver on loopback: once per request and threshold, never with an identifier."""

from __future__ import annotations

import json
import socketserver
import threading
from datetime import UTC, date, datetime

from sqlmodel import select

from models import cases
from models.db import session_scope
from models.identifiers import validate_identifier
from models.settings import DatabaseSettings, NotificationSettings, Settings
from models.tables import AuditEvent, LocationScan
from models.types import IdentifierKind, RequestKind
from services.dashboard import dashboard_rows
from services.notifications import SENT_ACTIONS, send_alerts
from tests.fixtures.webhook import Receiver, receiver

__all__ = ["receiver"]

TODAY = date(2026, 11, 2)
EMAIL = "mia.berg@mail.invalid"
NAME = "Mia Berg"


def _submit(settings: Settings, kind: RequestKind, received: datetime) -> str:
    with session_scope(settings.database.url) as session:
        return cases.submit_request(
            session,
            settings,
            kind=kind,
            identifiers=[
                validate_identifier(IdentifierKind.EMAIL, EMAIL),
                validate_identifier(IdentifierKind.NAME, NAME),
            ],
            hmac_key=b"h" * 32,
            master_key=b"m" * 32,
            received_at=received,
        ).id


def test_dashboard_in_urgency_order_and_one_alert_per_threshold(database_url: str, receiver: Receiver) -> None:
    """Three open requests: rows sorted by urgency; the one due within 7 days gives exactly one POST with no
    identifier; a second round sends nothing new; a closed request is not on the dashboard."""
    settings = Settings(
        database=DatabaseSettings(url=database_url), notifications=NotificationSettings(webhook_url=receiver.url)
    )
    later = _submit(settings, RequestKind.ACCESS, datetime(2026, 10, 30, 10, tzinfo=UTC))  # due 2026-11-30
    soon = _submit(settings, RequestKind.ERASURE, datetime(2026, 10, 6, 10, tzinfo=UTC))  # due 2026-11-06
    middle = _submit(settings, RequestKind.PORTABILITY, datetime(2026, 10, 20, 10, tzinfo=UTC))  # due 2026-11-20
    closed = _submit(settings, RequestKind.ACCESS, datetime(2026, 10, 5, 10, tzinfo=UTC))
    with session_scope(database_url) as session:
        cases.withdraw_request(session, closed)
        session.add(LocationScan(request_id=middle, location="laptop-07", status="unreachable"))
        session.add(LocationScan(request_id=middle, location="laptop-01", status="scanned"))

    rows = dashboard_rows(settings, today=TODAY)
    assert [r.request_id for r in rows] == [soon, middle, later]
    assert [r.days_left for r in rows] == [4, 18, 28]
    first = rows[0].as_dict()
    assert first["kind"] == "erasure" and first["status"] == "identity_pending" and first["received"] == "2026-10-06"
    assert first["due"] == "2026-11-06" and first["overdue"] is False and first["next"].startswith("identity")
    assert rows[1].pending == ("laptop-07",)

    report = send_alerts(settings, rows)
    assert report.sent == (soon,)
    assert len(receiver.bodies) == 1
    body = receiver.bodies[0].decode("utf-8")
    assert json.loads(body) == {
        "text": f"{soon} (erasure) is due 2026-11-06: 4 day(s) left",
        "request_id": soon,
        "kind": "erasure",
        "due": "2026-11-06",
        "days_left": 4,
    }
    for identifier in ("mia", "berg", "laptop"):
        assert identifier not in body.lower()

    again = send_alerts(settings, dashboard_rows(settings, today=TODAY))
    assert again.sent == () and again.already_sent == 1 and len(receiver.bodies) == 1

    # Overdue is a second threshold: one more alert for the same request, then nothing.
    late = dashboard_rows(settings, today=date(2026, 11, 9))
    assert late[0].request_id == soon and late[0].overdue
    assert send_alerts(settings, late).sent == (soon,)
    assert send_alerts(settings, late).sent == ()
    assert len(receiver.bodies) == 2 and json.loads(receiver.bodies[1])["days_left"] == -3
    with session_scope(database_url) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.request_id == soon)).all()
    assert sorted(e.action for e in events if e.action.startswith("notification.")) == sorted(SENT_ACTIONS.values())


def test_a_failed_delivery_is_tried_again(database_url: str, receiver: Receiver) -> None:
    """A webhook that cannot be reached records nothing, so the next round sends the alert."""
    dead = Receiver()
    dead_url = dead.url
    dead.close()
    settings = Settings(
        database=DatabaseSettings(url=database_url), notifications=NotificationSettings(webhook_url=dead_url)
    )
    rid = _submit(settings, RequestKind.ACCESS, datetime(2026, 10, 6, 10, tzinfo=UTC))
    failed = send_alerts(settings, dashboard_rows(settings, today=TODAY))
    assert failed.sent == () and failed.failed == 1
    working = settings.model_copy(update={"notifications": NotificationSettings(webhook_url=receiver.url)})
    assert send_alerts(working, dashboard_rows(working, today=TODAY)).sent == (rid,)
    assert len(receiver.bodies) == 1


def test_no_channel_sends_and_records_nothing(database_url: str) -> None:
    """Without `[notifications]` alerts are off: nothing is recorded as sent."""
    settings = Settings(database=DatabaseSettings(url=database_url))
    _submit(settings, RequestKind.ACCESS, datetime(2026, 9, 1, 10, tzinfo=UTC))
    assert send_alerts(settings, dashboard_rows(settings, today=TODAY)).sent == ()
    with session_scope(database_url) as session:
        assert not [e for e in session.exec(select(AuditEvent)).all() if e.action.startswith("notification.")]


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP (RFC 5321) to take one message; the data is kept on the server."""

    def handle(self) -> None:
        received: list[bytes] = self.server.messages  # type: ignore[attr-defined]
        self.wfile.write(b"220 loopback ESMTP\r\n")
        while line := self.rfile.readline():
            verb = line.strip().upper()
            if verb.startswith((b"EHLO", b"HELO")):
                self.wfile.write(b"250 loopback\r\n")
            elif verb == b"DATA":
                self.wfile.write(b"354 go ahead\r\n")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk
                received.append(data)
                self.wfile.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


def test_email_alert_through_a_loopback_mail_server(database_url: str) -> None:
    """With `smtp_host` set, the alert goes out as one e-mail with the same words and no identifier."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler)
    server.messages = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        mail = NotificationSettings(
            smtp_host="127.0.0.1", smtp_port=server.server_address[1], smtp_starttls=False,
            mail_from="dsr@corp.invalid", mail_to=["privacy@corp.invalid"],
        )  # fmt: skip
        settings = Settings(database=DatabaseSettings(url=database_url), notifications=mail)
        rid = _submit(settings, RequestKind.ACCESS, datetime(2026, 10, 6, 10, tzinfo=UTC))
        assert send_alerts(settings, dashboard_rows(settings, today=TODAY)).sent == (rid,)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    messages = server.messages  # type: ignore[attr-defined]
    assert len(messages) == 1
    text = messages[0].decode()
    assert f"{rid} (access) is due 2026-11-06: 4 day(s) left" in text and "privacy@corp.invalid" in text
    assert "mia" not in text.lower() and "berg" not in text.lower()
