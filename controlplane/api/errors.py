"""Every error leaves the API as JSON `{"detail": ..., "code": ...}` with a stable code.

Services raise `DomainError` (controlplane/errors.py); this maps its kind to an HTTP status.
`ApiError` is for what only the HTTP layer knows (a bad form, a missing bearer token)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from controlplane.errors import DomainError, Kind

log = logging.getLogger(__name__)

_DEFAULT_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
}


HTTP_STATUS: dict[Kind, int] = {
    Kind.invalid: 422,
    Kind.unauthenticated: 401,
    Kind.forbidden: 403,
    Kind.not_found: 404,
    Kind.conflict: 409,
    Kind.gone: 410,
    Kind.rate_limited: 429,
    Kind.unavailable: 503,
}


class ApiError(StarletteHTTPException):
    def __init__(
        self, status_code: int, code: str, detail: Any, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code=status_code, detail=detail, headers=headers)
        self.code = code


def error_body(*, code: str, detail: Any) -> dict[str, Any]:
    return {"detail": detail, "code": code}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = getattr(exc, "code", None) or _DEFAULT_CODES.get(exc.status_code, "error")
    return JSONResponse(
        error_body(code=code, detail=exc.detail), status_code=exc.status_code, headers=exc.headers
    )


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return JSONResponse(
        error_body(code=exc.code, detail=exc.detail),
        status_code=HTTP_STATUS[exc.kind],
        headers=headers,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{k: v for k, v in e.items() if k in ("type", "loc", "msg")} for e in exc.errors()]
    return JSONResponse(
        error_body(code="validation_error", detail=jsonable_encoder(errors)), status_code=422
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", extra={"path": request.url.path})
    return JSONResponse(error_body(code="internal_error", detail="Internal error"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
