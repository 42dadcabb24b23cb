"""One JSON error shape for every error the API returns::

    {"error": {"status": 412, "code": "stale_version", "message": "...", "details": {...}}}

jobgraph errors map to statuses here and nowhere else; FastAPI's request validation errors and
Starlette's HTTP errors (404 for an unknown path, 405) are reshaped the same way. Internal
faults answer 500 with a generic message: the traceback goes to the server log only.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from jobgraph.auth.errors import NotAuthenticated, TooManyAttempts, VersionRequired
from jobgraph.errors import (
    DuplicateId,
    EntityNotFound,
    ImportFailed,
    InvalidEntity,
    InvalidTransition,
    JobgraphError,
    PermissionDenied,
    StaleVersion,
    UserError,
    ValidationFailed,
)

log = logging.getLogger("jobgraph.api")

# most specific first: the first class an error is an instance of decides
STATUS: list[tuple[type[JobgraphError], int, str]] = [
    (NotAuthenticated, 401, "not_authenticated"),
    (PermissionDenied, 403, "permission_denied"),
    (EntityNotFound, 404, "not_found"),
    (DuplicateId, 409, "duplicate_id"),
    (InvalidTransition, 409, "invalid_transition"),
    (StaleVersion, 412, "stale_version"),
    (VersionRequired, 428, "version_required"),
    (InvalidEntity, 422, "invalid_entity"),
    (ValidationFailed, 422, "validation_failed"),
    (ImportFailed, 422, "import_failed"),
    (TooManyAttempts, 429, "too_many_attempts"),
    (UserError, 400, "bad_request"),
]

HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "too_large",
    415: "unsupported_media_type",
}


def error_body(status: int, code: str, message: str, **details: Any) -> dict[str, Any]:
    return {
        "error": {
            "status": status,
            "code": code,
            "message": message,
            "details": jsonable_encoder(details),
        }
    }


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **details: Any
) -> JSONResponse:
    return JSONResponse(error_body(status, code, message, **details), status, headers=headers)


def classify(exc: JobgraphError) -> tuple[int, str]:
    for cls, status, code in STATUS:
        if isinstance(exc, cls):
            return status, code
    return 500, "internal_error"


def jobgraph_error_response(exc: JobgraphError) -> JSONResponse:
    status, code = classify(exc)
    if status == 500:
        log.error("internal error: %s", exc, exc_info=exc)
        return error_response(status, code, "internal error; the server log has the details")
    details: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(exc, StaleVersion):
        details = {
            "id": exc.entity_id,
            "expected_version": exc.expected,
            "current_version": exc.current,
        }
        headers["ETag"] = f'"{exc.current}"'
    elif isinstance(exc, ValidationFailed | ImportFailed):
        details = {"findings": [f.as_dict() for f in exc.findings]}
    elif isinstance(exc, TooManyAttempts):
        details = {"retry_after": exc.retry_after}
        headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, NotAuthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    return error_response(status, code, str(exc), headers=headers or None, **details)


def install(app: FastAPI) -> None:
    @app.exception_handler(JobgraphError)
    async def _jobgraph(request: Request, exc: JobgraphError) -> JSONResponse:
        return jobgraph_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": [str(p) for p in e.get("loc", ())],
                "msg": e.get("msg", ""),
                "type": e.get("type", ""),
            }
            for e in exc.errors()
        ]
        where = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5])
        return error_response(422, "invalid_request", f"invalid request: {where}", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, code, message, headers=headers)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(
            500, "internal_error", "internal error; the server log has the details"
        )
