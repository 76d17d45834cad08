"""One error body for every failure the API answers, so a client parses one shape:

``{"error": {"code": "...", "message": "...", "details": [...]}}``, with ``details`` a list of
``{"path": "briefs[0].length", "message": "..."}`` for invalid briefs (the same problems ``cues validate`` prints).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cues.schemas.errors import Problem, echo


class ApiError(Exception):
    """An answer other than success: the HTTP status, a stable machine-readable ``code``, a message for a person."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Iterable[Mapping[str, str]] = (),
        headers: Mapping[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = [dict(detail) for detail in details]
        self.headers = dict(headers or {})

    def body(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def problem_details(problems: Iterable[Problem], prefix: str = "") -> list[dict[str, str]]:
    """Brief problems as ``details`` entries; ``prefix`` locates the brief in the request (``briefs[2]``). The
    message gives the bad value as ``cues validate`` does (``... (got 'nine')``)."""
    details = []
    for problem in problems:
        path = ".".join(part for part in (prefix, problem.path) if part)
        message = f"{problem.message} (got {echo(problem.value)})" if problem.has_value else problem.message
        details.append({"path": path, "message": message})
    return details


_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type", 429: "rate_limited"}


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves in the one shape, including FastAPI's own 404/405 and its parameter validation."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, error: ApiError) -> JSONResponse:
        return error.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(error.status_code, "error")
        return ApiError(error.status_code, code, str(error.detail), headers=error.headers).response()

    @app.exception_handler(RequestValidationError)
    async def _invalid_parameters(_request: Request, error: RequestValidationError) -> JSONResponse:
        details = [{"path": ".".join(str(part) for part in entry["loc"]), "message": entry["msg"]}
                   for entry in error.errors()]
        return ApiError(422, "invalid_request", "the request's parameters are invalid", details=details).response()
