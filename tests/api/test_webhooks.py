"""Webhooks: every change is POSTed, signed, retried with backoff, and logged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from tests.api.conftest import Api, job
from tests.conftest import START

from jobgraph.auth import Role
from jobgraph.service import Workspace
from jobgraph.webhooks import SIGNATURE_HEADER, RetryPolicy, Webhooks, verify


class Receiver:
    """An in-memory subscriber that answers with the given statuses, then 204."""

    def __init__(self, *statuses: int | Exception) -> None:
        self.statuses = list(statuses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.statuses.pop(0) if self.statuses else 204
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer)


class Now:
    def __init__(self) -> None:
        self.at = START

    def __call__(self):  # type: ignore[no-untyped-def]
        return self.at


@pytest.fixture
def now(ws: Workspace) -> Now:
    clock = Now()
    ws.clock = clock
    return clock


def hooks_for(ws: Workspace, receiver: Receiver) -> Iterator[Webhooks]:
    policy = RetryPolicy(first_delay=timedelta(seconds=10), max_attempts=3, settle=timedelta(0))
    hooks = Webhooks(ws, policy=policy, transport=httpx.MockTransport(receiver))
    yield hooks
    hooks.close()


def test_changes_are_posted_signed_and_filtered_by_kind(ws: Workspace, now: Now) -> None:
    receiver = Receiver()
    for hooks in hooks_for(ws, receiver):
        ws.create(job("before"), author="alice")
        hook, secret = hooks.add("https://crm.example/hook", kinds=["job"], actor="ada")
        record = ws.create(job("pay-a-bill"), author="alice")
        ws.create(
            {"id": "outcome.o", "title": "O", "job": record.id, "statement": "Minimize the time"},
            author="alice",
        )
        assert hooks.collect() == 1
        assert hooks.collect() == 0
        assert hooks.deliver_due() == 1
        (request,) = receiver.requests
        body = request.content
        assert verify(secret, request.headers[SIGNATURE_HEADER], body)
        assert not verify("another secret", request.headers[SIGNATURE_HEADER], body)
        event = json.loads(body)
        assert event["event"] == "entity.create" == request.headers["X-Jobgraph-Event"]
        assert (event["entity_id"], event["version"], event["author"]) == (record.id, 1, "alice")
        assert event["entity"]["statement"] == record.entity.statement
        (delivery,) = hooks.deliveries(hook.id)
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
            "delivered",
            1,
            204,
        )


def test_failed_deliveries_are_retried_with_backoff_then_given_up(ws: Workspace, now: Now) -> None:
    receiver = Receiver(500, httpx.ConnectError("refused"), 503, 500)
    for hooks in hooks_for(ws, receiver):
        hooks.add("https://down.example/hook", actor="ada")
        ws.create(job("a"), author="alice")
        ws.create(job("b"), author="alice")
        hooks.collect()
        assert hooks.deliver_due() == 0  # a: 500; b: connection refused
        log = {d.entity_id: d for d in hooks.deliveries()}
        assert log["job.a"].last_error == "answered 500"
        assert "ConnectError" in (log["job.b"].last_error or "")
        assert log["job.a"].next_attempt_at == START + timedelta(seconds=10)
        assert hooks.deliver_due() == 0  # nothing is due yet
        now.at += timedelta(seconds=10)
        assert hooks.deliver_due() == 0  # a: 503; b: 500
        assert hooks.deliveries()[0].next_attempt_at == now.at + timedelta(seconds=20)
        now.at += timedelta(seconds=20)
        assert hooks.deliver_due() == 2
        assert {d.status for d in hooks.deliveries()} == {"delivered"}
        assert [d.attempts for d in hooks.deliveries()] == [3, 3]

    receiver = Receiver(*[500] * 20)
    for hooks in hooks_for(ws, receiver):
        hooks.add("https://gone.example/hook", actor="ada")
        ws.create(job("c"), author="alice")
        hooks.collect()
        for _ in range(4):
            hooks.deliver_due()
            now.at += timedelta(hours=1)
        (gone,) = [d for d in hooks.deliveries() if d.entity_id == "job.c" and d.webhook_id == 2]
        assert (gone.status, gone.attempts) == ("failed", 3)


def test_paused_webhooks_queue_nothing(ws: Workspace, now: Now) -> None:
    for hooks in hooks_for(ws, Receiver()):
        hook, _ = hooks.add("http://localhost:9/hook", actor="ada")
        hooks.set_active(hook.id, False)
        ws.create(job("a"), author="alice")
        assert hooks.collect() == 0
        with pytest.raises(Exception, match="not an http"):
            hooks.add("ftp://example/x", actor="ada")


def test_admins_manage_webhooks_over_the_api(api: Api) -> None:
    ada = api.client(Role.ADMIN)
    r = ada.post("/api/v1/webhooks", json={"url": "https://crm.example/hook", "kinds": ["job"]})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["secret"].startswith("whsec_") and created["kinds"] == ["job"]
    listed = ada.get("/api/v1/webhooks").json()
    assert listed["count"] == 1 and "secret" not in listed["data"][0]
    r = ada.patch(f"/api/v1/webhooks/{created['id']}", json={"active": False})
    assert r.json()["active"] is False
    r = ada.get(f"/api/v1/webhooks/{created['id']}/deliveries")
    assert r.status_code == 200 and r.json() == {"data": [], "count": 0}
    assert api.client(Role.COUNCIL).get("/api/v1/webhooks").status_code == 403
    r = ada.post("/api/v1/webhooks", json={"url": "javascript:alert(1)//"})
    assert r.status_code == 400


def test_the_dispatcher_delivers_in_the_background(ws: Workspace, now: Now) -> None:
    import time

    from jobgraph.webhooks import Dispatcher

    receiver = Receiver()
    for hooks in hooks_for(ws, receiver):
        hooks.add("https://crm.example/hook", actor="ada")
        ws.create(job("a"), author="alice")
        dispatcher = Dispatcher(hooks, interval=0.05)
        dispatcher.start()
        try:
            deadline = time.monotonic() + 10
            while not receiver.requests and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            dispatcher.stop()
        assert len(receiver.requests) == 1
        assert hooks.deliveries()[0].status == "delivered"
