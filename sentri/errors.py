"""One error shape for the whole API: {"error": "<human sentence>"} with the right status."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException


class SentriError(Exception):
    """A domain error with the HTTP status it maps to; raised by domain code, rendered by the app."""

    status = 400

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class ValidationFailed(SentriError):
    """A 400. `fields` maps each field it is about to what is wrong with it, so that a page shows the
    problem beside its field; the message is the same sentence the API answers with."""

    status = 400

    def __init__(self, message: str, *, fields: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message, **extra)
        self.fields = dict(fields or {})

    @classmethod
    def on(cls, field: str, problem: str) -> ValidationFailed:
        """A 400 about one field: the message 'field: problem', and `problem` beside that field."""
        return cls(f"{field}: {problem}", fields={field: problem})

    @classmethod
    def on_each(cls, problems: list[tuple[str | None, str]]) -> ValidationFailed:
        """A 400 about several fields at once (None: about the request as a whole), '; '-joined."""
        parts = [f"{field}: {problem}" if field else problem for field, problem in problems]
        fields = {field: problem for field, problem in problems if field}
        general = [problem for field, problem in problems if not field]
        if general:
            fields[""] = "; ".join(general)
        return cls("; ".join(parts), fields=fields)


class Unauthorized(SentriError):
    status = 401


class Forbidden(SentriError):
    status = 403


class NotFound(SentriError):
    status = 404


class Conflict(SentriError):
    status = 409


class Unavailable(SentriError):
    """A 503: something Sentri depends on (the artifact store) did not answer; trying again may work."""

    status = 503


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_response(message: str, code: int, /, **extra: Any):
    """Build the JSON error response (extra fields, e.g. runId, go into the body)."""
    body = {"error": message, **extra}
    response = jsonify(body)
    response.status_code = code
    if code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="sentri"'
    return response


def register_error_handlers(app: Flask) -> None:
    """Route every error, including routing 404/405 and Flask-Limiter's 429, through one shape."""

    @app.errorhandler(SentriError)
    def _domain_error(exc: SentriError):
        if _wants_json():
            return error_response(exc.message, exc.status, **exc.extra)
        return render_template("errors/error.html", status=exc.status, message=exc.message), exc.status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        message = exc.description or exc.name
        if exc.code == 429:
            message = (
                f"Rate limit exceeded ({exc.description}). Retry after the time in the Retry-After header."
            )
        if _wants_json():
            response = error_response(message, exc.code or 500)
        else:
            response = app.make_response(
                (render_template("errors/error.html", status=exc.code, message=message), exc.code)
            )
        # Keep headers the exception carries (Allow on 405, Retry-After on 429).
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        message = "Internal server error; the server log has the details."
        if _wants_json():
            return error_response(message, 500)
        return render_template("errors/error.html", status=500, message=message), 500
