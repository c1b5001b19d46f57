"""Deadline alerts: a warning before a request's deadline and a notice once it is overdue, each sent once.

Plain Python (stdlib senders, no Prefect). An alert names the request id, its kind, its due date and the days
left, nothing else: never an identifier, a status reason or a location. Each (request, threshold) pair is
sent at most once: a successful send is recorded as an audit event in the case database, and requests
already recorded are skipped on every later run. A send that fails is not recorded and is tried again by
the next run.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from sqlmodel import col, select

from models.cases import record_event
from models.db import session_scope
from models.errors import DsrError
from models.settings import NotificationSettings, Settings
from models.tables import AuditEvent
from services.dashboard import DashboardRow

WARNING = "warning"
OVERDUE = "overdue"
#: The audit action recording that the alert of one threshold was sent for a request.
SENT_ACTIONS = {WARNING: "notification.warning_sent", OVERDUE: "notification.overdue_sent"}
NOTIFIER_ACTOR = "deadline-alerts"
SMTP_PASSWORD_ENV = "DSR_SMTP_PASSWORD"  # noqa: S105 - the name of a variable, not a password

log = logging.getLogger(__name__)


class NotificationError(DsrError):
    """A channel refused or could not take an alert (the message names the channel, never the alert)."""


@dataclass(frozen=True)
class Alert:
    """What one alert says: a request id, its kind, its due date and the days left (negative: overdue)."""

    request_id: str
    kind: str
    due: str
    days_left: int

    @property
    def threshold(self) -> str:
        """`overdue` when the due date has passed, else `warning`."""
        return OVERDUE if self.days_left < 0 else WARNING

    @property
    def text(self) -> str:
        """One line for people."""
        if self.days_left < 0:
            return f"{self.request_id} ({self.kind}) is overdue: it was due {self.due}, {-self.days_left} day(s) ago"
        return f"{self.request_id} ({self.kind}) is due {self.due}: {self.days_left} day(s) left"

    def document(self) -> dict[str, str | int]:
        """The JSON object a webhook receives (exactly these keys)."""
        return {
            "text": self.text,
            "request_id": self.request_id,
            "kind": self.kind,
            "due": self.due,
            "days_left": self.days_left,
        }


class Notifier(Protocol):
    """One channel for alerts."""

    name: str

    def send(self, alert: Alert) -> None:
        """Deliver `alert` or raise `NotificationError`."""


class WebhookNotifier:
    """POSTs each alert as one JSON object (`Alert.document`) to a URL."""

    name = "webhook"

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        """Configure (no traffic until `send`)."""
        self.url = url
        self.timeout = timeout

    def send(self, alert: Alert) -> None:
        """POST the alert; any answer other than 2xx is a failure."""
        body = json.dumps(alert.document()).encode("utf-8")
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked (http/https) by the settings
            self.url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310 - checked scheme
                status = int(answer.status)
        except (OSError, ValueError) as exc:
            raise NotificationError(f"the alert webhook could not be reached ({type(exc).__name__})") from None
        if not 200 <= status < 300:
            raise NotificationError(f"the alert webhook answered HTTP {status}")


class EmailNotifier:
    """Sends each alert as a short e-mail over SMTP (STARTTLS by default; password from DSR_SMTP_PASSWORD)."""

    name = "email"

    def __init__(self, settings: NotificationSettings) -> None:
        """Configure (no traffic until `send`)."""
        self.settings = settings

    def send(self, alert: Alert) -> None:
        """Send the alert to `mail_to`."""
        conf = self.settings
        message = EmailMessage()
        message["Subject"] = f"DSR deadline: {alert.text}"
        message["From"] = conf.mail_from or ""
        message["To"] = ", ".join(conf.mail_to)
        message.set_content(
            alert.text + "\n\nSee the deadline dashboard (Prefect UI, Artifacts) for every open request.\n"
        )
        try:
            with smtplib.SMTP(conf.smtp_host or "", conf.smtp_port, timeout=conf.timeout_seconds) as smtp:
                if conf.smtp_starttls:
                    smtp.starttls()
                if conf.smtp_username:
                    smtp.login(conf.smtp_username, os.environ.get(SMTP_PASSWORD_ENV, ""))
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise NotificationError(f"the alert e-mail could not be sent ({type(exc).__name__})") from None


def notifiers_from(settings: Settings) -> list[Notifier]:
    """The channels configured in `[notifications]` (none: alerts are off)."""
    conf = settings.notifications
    channels: list[Notifier] = []
    if conf.webhook_url:
        channels.append(WebhookNotifier(conf.webhook_url, timeout=conf.timeout_seconds))
    if conf.smtp_host:
        channels.append(EmailNotifier(conf))
    return channels


def due_alerts(rows: Iterable[DashboardRow], *, warn_days: int) -> list[Alert]:
    """Alerts the dashboard calls for: overdue requests, and open requests due within `warn_days` days."""
    return [
        Alert(r.request_id, r.kind, r.due.isoformat(), r.days_left)
        for r in rows
        if r.overdue or r.days_left <= warn_days
    ]


@dataclass(frozen=True)
class AlertReport:
    """What one round of alerts did (request ids and counts only)."""

    sent: tuple[str, ...] = ()
    already_sent: int = 0
    failed: int = 0


def send_alerts(
    settings: Settings, rows: Sequence[DashboardRow], *, notifiers: Sequence[Notifier] | None = None
) -> AlertReport:
    """Send each due alert not sent before through every channel, and record it once all channels took it.

    Args:
        settings: the configuration (`[notifications]`, `[schedules].warn_days_before_deadline`, database).
        rows: the dashboard rows (`services.dashboard.dashboard_rows`).
        notifiers: the channels (default: from the settings); no channel means nothing is sent or recorded.
    """
    channels = notifiers_from(settings) if notifiers is None else list(notifiers)
    alerts = due_alerts(rows, warn_days=settings.schedules.warn_days_before_deadline)
    if not channels or not alerts:
        return AlertReport()
    with session_scope(settings.database.url) as session:
        done = set(
            session.exec(
                select(AuditEvent.request_id, AuditEvent.action).where(
                    col(AuditEvent.action).in_(list(SENT_ACTIONS.values()))
                )
            ).all()
        )
    sent: list[str] = []
    skipped = failed = 0
    for alert in alerts:
        action = SENT_ACTIONS[alert.threshold]
        if (alert.request_id, action) in done:
            skipped += 1
            continue
        reached = []
        for channel in channels:
            try:
                channel.send(alert)
                reached.append(channel.name)
            except NotificationError as exc:
                log.warning("%s: %s alert not delivered: %s", alert.request_id, alert.threshold, exc)
        if not reached:
            failed += 1
            continue
        with session_scope(settings.database.url) as session:
            record_event(
                session,
                action,
                request_id=alert.request_id,
                actor=NOTIFIER_ACTOR,
                due=alert.due,
                days_left=alert.days_left,
                channels=reached,
            )
        sent.append(alert.request_id)
    return AlertReport(tuple(sent), skipped, failed)
