"""Reading one entity by id, fast: the most frequent request the API answers.

An entity's JSON is built once per version and kept in a bounded per-process cache keyed by id
and version. Every write raises the version, so a cached body is checked with one indexed read
of the version (``KnowledgeBase.head``) and is never stale, whichever process wrote: a write
in another server process is seen by the next read here. :class:`FastEntityReads` answers
``GET /api/v1/entities/{id}`` before FastAPI's routing and dependency resolution, which cost
more than the read itself, with one database read for the token and the entity together; it
answers only the plain case (a valid API token, a live entity, no query parameters) and hands
everything else to the route, which uses the same reader.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from jobgraph.api.schemas import EntityPublic
from jobgraph.auth.access import Access
from jobgraph.auth.errors import NotAuthenticated
from jobgraph.auth.roles import Action
from jobgraph.auth.secrets import digest
from jobgraph.domain.entities import Status, from_data
from jobgraph.store.repository import KnowledgeBase, Record, with_entity

CACHE_SIZE = 20_000
ENTITY_PATH = "/api/v1/entities/"

# an entity tag list as sent in If-None-Match: "3", W/"3", "2", "3" or *
_TAG = re.compile(r'(?:W/)?"?(\d{1,9}|\*)"?')


@dataclass(frozen=True, slots=True)
class Body:
    """An entity serialised as the API returns it (``EntityPublic``), at one version."""

    entity_id: str
    version: int
    json: bytes

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


def not_modified(body: Body, if_none_match: str | None) -> bool:
    """Whether the client's If-None-Match already names this version."""
    if not if_none_match:
        return False
    tags = {m.group(1) for m in _TAG.finditer(if_none_match)}
    return "*" in tags or str(body.version) in tags


class EntityReader:
    """Entity bodies by id, from a per-process cache checked against the stored version."""

    def __init__(self, kb: KnowledgeBase, size: int = CACHE_SIZE) -> None:
        self.kb = kb
        self.size = size
        self._cache: OrderedDict[str, Body] = OrderedDict()

    def read(self, entity_id: str, *, follow: bool = True) -> Body | None:
        """The current body of ``entity_id``; None when it does not exist, or when it is
        retired into a successor and ``follow`` asks for that one (the caller decides)."""
        cached = self._cache.get(entity_id)
        if cached is not None:
            head = self.kb.head(entity_id)
            if head is None:
                return None
            if follow and head.successor and head.status == Status.RETIRED.value:
                return None
            if head.version == cached.version:
                self._cache.move_to_end(entity_id)
                return cached
        record = self.kb.get(entity_id)
        if record is None:
            return None
        entity = record.entity
        if follow and entity.successor and entity.status is Status.RETIRED:
            return None
        return self.body(record)

    def from_values(self, entity_id: str, values: Sequence[Any]) -> Body | None:
        """The body from the values of :data:`~jobgraph.store.repository.ENTITY_TEXT_COLUMNS`
        read for ``entity_id`` (all None when it does not exist); None as for :meth:`read`
        with ``follow``."""
        version, status, successor, data, created_at, created_by, updated_at, updated_by = values
        if version is None or (successor and status == Status.RETIRED.value):
            return None
        cached = self._cache.get(entity_id)
        if cached is not None and cached.version == version:
            self._cache.move_to_end(entity_id)
            return cached
        entity = from_data(json.loads(data))
        return self.body(Record(entity, version, created_at, created_by, updated_at, updated_by))

    def body(self, record: Record) -> Body:
        """Serialise ``record`` and remember it."""
        body = Body(record.id, record.version, EntityPublic.of(record).model_dump_json().encode())
        cache = self._cache
        current = cache.get(record.id)
        if current is None or current.version <= record.version:
            cache[record.id] = body
            cache.move_to_end(record.id)
            if len(cache) > self.size:
                cache.popitem(last=False)
        return body

    def forget(self) -> None:
        self._cache.clear()


class FastEntityReads:
    """Pure ASGI middleware: ``GET /api/v1/entities/{id}`` with a Bearer token, answered
    exactly as the route answers it (same reader, same headers), or passed on unchanged."""

    def __init__(self, app: ASGIApp, reader: EntityReader, access: Access) -> None:
        self.app = app
        self.reader = reader
        self.access = access
        # the token, its user and the entity in one read: one round trip to the database
        token = access.token_query()
        self._split = len(token.selected_columns)
        self._read = reader.kb.lookup.prepare(with_entity(token))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and not scope["query_string"]
            and scope["path"].startswith(ENTITY_PATH)
        ):
            answer = self._answer(scope)
            if answer is not None:
                status, headers, content = answer
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": content})
                return
        await self.app(scope, receive, send)

    def _answer(self, scope: Scope) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        entity_id: str = scope["path"][len(ENTITY_PATH) :]
        if not entity_id or len(entity_id) > 200 or "/" in entity_id or "\x00" in entity_id:
            return None
        authorization = if_none_match = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"if-none-match":
                if_none_match = value.decode("latin-1")
            elif name == b"cookie":
                return None  # a session as well: let the route decide which one counts
        if authorization is None or authorization[:7].lower() != b"bearer ":
            return None
        key = digest(authorization[7:].decode("latin-1"))
        row = self.reader.kb.lookup.one(self._read, {"key": key, "id": entity_id})
        try:
            principal, stale = self.access.check_token_row(row and row[: self._split])
        except NotAuthenticated:
            return None
        if stale or not principal.may(Action.READ) or row is None:
            return None  # the route records the token's use, or refuses in the error shape
        body = self.reader.from_values(entity_id, row[self._split :])
        if body is None:
            return None
        etag = body.etag.encode()
        if not_modified(body, if_none_match):
            return 304, [(b"etag", etag)], b""
        return (
            200,
            [
                (b"content-length", str(len(body.json)).encode()),
                (b"content-type", b"application/json"),
                (b"etag", etag),
            ],
            body.json,
        )
