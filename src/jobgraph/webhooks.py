"""Outgoing webhooks: after each change, a signed event is POSTed to every subscriber.

Events come from the revisions table, so every change is published whichever front end made
it (API, web, command line, import). Each webhook keeps a cursor (the last revision queued);
queuing and claiming use conditional updates, so several server processes can run the
dispatcher side by side without sending an event twice.

The body is JSON; ``X-Jobgraph-Signature: t=UNIX,v1=HEX`` is the HMAC-SHA256 of ``"{t}.{body}"``
with the webhook's secret, so a receiver can check who sent it and refuse replays. A failed
delivery is retried with exponential backoff; every attempt is in the delivery log.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func, insert, select, update

from jobgraph.auth.secrets import new_secret
from jobgraph.domain.ids import Kind
from jobgraph.errors import UserError
from jobgraph.service import Workspace
from jobgraph.store.repository import write_transaction
from jobgraph.store.tables import DeliveryRow, RevisionRow, WebhookRow

log = logging.getLogger("jobgraph.webhooks")

SIGNATURE_HEADER = "X-Jobgraph-Signature"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    first_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)
    max_attempts: int = 8
    timeout: float = 10.0
    # revisions younger than this are left for the next round, so a transaction that took
    # its revision id earlier but committed later is not skipped
    settle: timedelta = timedelta(seconds=2)

    def delay(self, attempts: int) -> timedelta:
        delay: timedelta = self.first_delay * (2 ** max(0, attempts - 1))
        return min(delay, self.max_delay)


@dataclass(frozen=True, slots=True)
class Webhook:
    id: int
    url: str
    kinds: tuple[str, ...]
    active: bool
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    webhook_id: int
    event: str
    entity_id: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes) -> bool:
    """What a receiver does: recompute the signature and compare in constant time."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if "t" not in parts or not parts["t"].isdigit():
        return False
    return hmac.compare_digest(sign(secret, int(parts["t"]), body), header)


def _webhook(row: Any) -> Webhook:
    kinds = tuple(k for k in row.kinds.split(",") if k)
    return Webhook(row.id, row.url, kinds, bool(row.active), row.created_at, row.created_by)


class Webhooks:
    """Subscriptions, the queue of events and their delivery, for one workspace."""

    def __init__(
        self,
        workspace: Workspace,
        *,
        policy: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.workspace = workspace
        self.engine = workspace.kb.engine
        self.policy = policy or RetryPolicy()
        self.client = httpx.Client(transport=transport, timeout=self.policy.timeout)

    def close(self) -> None:
        self.client.close()

    # subscriptions

    def add(
        self, url: str, *, actor: str, kinds: Sequence[str] = (), secret: str | None = None
    ) -> tuple[Webhook, str]:
        """Subscribe ``url`` to changes (of ``kinds``, default all) from now on. Returns the
        webhook and its signing secret."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
            raise UserError(f"{url[:80]!r} is not an http(s) URL; give the full address")
        try:
            kinds = sorted({Kind.parse(k).value for k in kinds})
        except ValueError as exc:
            raise UserError(str(exc)) from None
        secret = secret or new_secret("whsec_")
        with self.engine.connect() as conn:
            start = conn.execute(select(func.max(RevisionRow.id))).scalar_one() or 0
        with write_transaction(self.engine) as conn:
            webhook_id = conn.execute(
                insert(WebhookRow)
                .values(
                    url=url,
                    secret=secret,
                    kinds=",".join(kinds),
                    active=True,
                    last_revision_id=start,
                    created_at=self.workspace.clock(),
                    created_by=actor,
                )
                .returning(WebhookRow.id)
            ).scalar_one()
        return self.get(webhook_id), secret

    def get(self, webhook_id: int) -> Webhook:
        with self.engine.connect() as conn:
            row = conn.execute(select(WebhookRow).where(WebhookRow.id == webhook_id)).first()
        if row is None:
            raise UserError(f"no webhook {webhook_id}; list them with GET /api/v1/webhooks")
        return _webhook(row)

    def list(self) -> list[Webhook]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(WebhookRow).order_by(WebhookRow.id)).all()
        return [_webhook(r) for r in rows]

    def set_active(self, webhook_id: int, active: bool) -> Webhook:
        self.get(webhook_id)
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(WebhookRow).where(WebhookRow.id == webhook_id).values(active=active)
            )
        return self.get(webhook_id)

    def deliveries(
        self, webhook_id: int | None = None, limit: int = 100
    ) -> builtins.list[Delivery]:
        query = select(DeliveryRow).order_by(DeliveryRow.id.desc()).limit(limit)
        if webhook_id is not None:
            query = query.where(DeliveryRow.webhook_id == webhook_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            Delivery(
                r.id,
                r.webhook_id,
                r.event,
                r.entity_id,
                r.status,
                r.attempts,
                r.next_attempt_at,
                r.last_status_code,
                r.last_error,
                r.created_at,
                r.delivered_at,
            )
            for r in rows
        ]

    # the queue

    def collect(self, batch: int = 500) -> int:
        """Queue the events of new revisions for every active webhook; returns how many."""
        now = self.workspace.clock()
        queued = 0
        with self.engine.connect() as conn:
            hooks = conn.execute(select(WebhookRow).where(WebhookRow.active.is_(True))).all()
        for hook in hooks:
            with self.engine.connect() as conn:
                revisions = conn.execute(
                    select(RevisionRow)
                    .where(
                        RevisionRow.id > hook.last_revision_id,
                        RevisionRow.at <= now - self.policy.settle,
                    )
                    .order_by(RevisionRow.id)
                    .limit(batch)
                ).all()
            if not revisions:
                continue
            kinds = {k for k in hook.kinds.split(",") if k}
            rows = [
                {
                    "webhook_id": hook.id,
                    "revision_id": r.id,
                    "event": f"entity.{r.action}",
                    "entity_id": r.entity_id,
                    "payload": _payload(r),
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for r in revisions
                if not kinds or r.entity_id.split(".", 1)[0] in kinds
            ]
            with write_transaction(self.engine) as conn:
                moved = conn.execute(
                    update(WebhookRow)
                    .where(
                        WebhookRow.id == hook.id,
                        WebhookRow.last_revision_id == hook.last_revision_id,
                    )
                    .values(last_revision_id=revisions[-1].id)
                ).rowcount
                if moved and rows:
                    conn.execute(insert(DeliveryRow), rows)
                    queued += len(rows)
        return queued

    def deliver_due(self, limit: int = 50) -> int:
        """Send the events that are due; returns how many were delivered."""
        now = self.workspace.clock()
        with self.engine.connect() as conn:
            due = conn.execute(
                select(DeliveryRow, WebhookRow.url, WebhookRow.secret)
                .join(WebhookRow, WebhookRow.id == DeliveryRow.webhook_id)
                .where(DeliveryRow.status == "pending", DeliveryRow.next_attempt_at <= now)
                .order_by(DeliveryRow.id)
                .limit(limit)
            ).all()
        delivered = 0
        for delivery in due:
            lease = now + timedelta(seconds=self.policy.timeout * 3)
            with write_transaction(self.engine) as conn:
                claimed = conn.execute(
                    update(DeliveryRow)
                    .where(
                        DeliveryRow.id == delivery.id,
                        DeliveryRow.status == "pending",
                        DeliveryRow.next_attempt_at == delivery.next_attempt_at,
                    )
                    .values(next_attempt_at=lease)
                ).rowcount
            if claimed:
                delivered += self._send(delivery)
        return delivered

    def _send(self, delivery: Any) -> int:
        url, secret = delivery.url, delivery.secret
        body = json.dumps(delivery.payload, ensure_ascii=False, sort_keys=True).encode()
        sent_at = self.workspace.clock()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "jobgraph-webhooks",
            "X-Jobgraph-Event": delivery.event,
            "X-Jobgraph-Delivery": str(delivery.id),
            SIGNATURE_HEADER: sign(secret, int(sent_at.timestamp()), body),
        }
        code: int | None = None
        error: str | None = None
        try:
            response = self.client.post(url, content=body, headers=headers)
            code = response.status_code
            if not 200 <= code < 300:
                error = f"answered {code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        attempts = delivery.attempts + 1
        now = self.workspace.clock()
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_status_code": code,
            "last_error": error,
        }
        if error is None:
            values.update(status="delivered", delivered_at=now)
        elif attempts >= self.policy.max_attempts:
            values.update(status="failed")
            log.warning("webhook delivery %s to %s failed for good: %s", delivery.id, url, error)
        else:
            values.update(next_attempt_at=now + self.policy.delay(attempts))
        with write_transaction(self.engine) as conn:
            conn.execute(update(DeliveryRow).where(DeliveryRow.id == delivery.id).values(**values))
        return 1 if error is None else 0

    def run_once(self) -> int:
        self.collect()
        return self.deliver_due()


def _payload(revision: Any) -> dict[str, Any]:
    return {
        "id": f"rev-{revision.id}",
        "event": f"entity.{revision.action}",
        "entity_id": revision.entity_id,
        "version": revision.version,
        "author": revision.author,
        "at": revision.at.isoformat(),
        "reason": revision.reason,
        "entity": revision.snapshot,
        "href": f"/api/v1/entities/{revision.entity_id}",
    }


class Dispatcher:
    """Runs ``Webhooks.run_once`` every ``interval`` seconds in a background thread."""

    def __init__(self, webhooks: Webhooks, interval: float = 2.0) -> None:
        self.webhooks = webhooks
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="jobgraph-webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.webhooks.policy.timeout + 5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.webhooks.run_once()
            except Exception:  # keep dispatching; the log says what went wrong
                log.exception("webhook dispatch failed")
