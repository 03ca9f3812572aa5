"""Errors as JSON: every error body is a :class:`~chronoguard.serving._schemas.Problem`
naming the offending thing and the fix, with the offending request rows where there are."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from chronoguard.errors import ChronoguardError, UnknownVersionError, WorkspaceBusyError
from chronoguard.lifecycle.access import AuthenticationError, PermissionDenied
from chronoguard.lifecycle.operations import SelectionError
from chronoguard.store import ApprovalConflictError, ApprovalError

#: Known failures of an action, by the status they are answered with (most specific first:
#: the handler of an error's nearest class applies).
_STATUS: tuple[tuple[type[ChronoguardError], int, str], ...] = (
    (AuthenticationError, 401, "unauthenticated"),
    (PermissionDenied, 403, "forbidden"),
    (UnknownVersionError, 404, "unknown_version"),
    (ApprovalConflictError, 409, "approval_conflict"),
    (WorkspaceBusyError, 409, "workspace_busy"),
    (ApprovalError, 422, "approval_refused"),
    (SelectionError, 422, "invalid_selection"),
)


class ProblemError(Exception):
    """Raised by a route: answered with ``status`` and a Problem body."""

    def __init__(
        self,
        status: int,
        error: str,
        detail: str,
        *,
        problems: list[str] | None = None,
        rows: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.problems = problems or []
        self.rows = rows or []


def problem_response(
    status: int,
    error: str,
    detail: str,
    *,
    problems: list[str] | None = None,
    rows: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    body = {"error": error, "detail": detail, "problems": problems or [], "rows": rows or []}
    return JSONResponse(body, status_code=status)


def _validation(exc: RequestValidationError) -> JSONResponse:
    problems: list[str] = []
    rows: dict[int, dict[str, Any]] = {}
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ())]
        where = ".".join(loc)
        problems.append(f"{where}: {e.get('msg', 'invalid')}")
        # body.rows.<i>.<field>: name the request row.
        if len(loc) >= 3 and loc[:2] == ["body", "rows"] and loc[2].isdigit():
            i = int(loc[2])
            row = rows.setdefault(i, {"row": i, "problems": []})
            field = loc[3] if len(loc) > 3 else "row"
            row["problems"].append(f"{field}: {e.get('msg', 'invalid')}")
    rows_out = [rows[i] for i in sorted(rows)]
    if rows_out:
        detail = (
            f"{len(rows_out)} row(s) of the request cannot be read (each row is "
            '{"unique_id": str, "ds": ISO 8601 time, "y": number}); nothing was written: '
            "fix the rows named and send the batch again"
        )
    else:
        detail = "the request is not valid: " + "; ".join(problems[:5])
    return problem_response(422, "invalid_request", detail, problems=problems, rows=rows_out)


def install_handlers(app: FastAPI) -> None:
    """Every error the app raises becomes a Problem body."""

    @app.exception_handler(ProblemError)
    async def _problem(_: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(
            exc.status, exc.error, exc.detail, problems=exc.problems, rows=exc.rows
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = "not_found" if exc.status_code == 404 else "http_error"
        detail = str(exc.detail)
        if exc.status_code == 404:
            detail = f"{detail}: no such endpoint; GET /docs lists them"
        return problem_response(exc.status_code, code, detail)

    @app.exception_handler(ChronoguardError)
    async def _chronoguard(_: Request, exc: ChronoguardError) -> JSONResponse:
        for cls, status, code in _STATUS:
            if isinstance(exc, cls):
                response = problem_response(status, code, str(exc))
                if status == 401:
                    response.headers["WWW-Authenticate"] = "Bearer"
                return response
        return problem_response(409, type(exc).__name__, str(exc))
