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
    status = 400


class Unauthorized(SentriError):
    status = 401


class Forbidden(SentriError):
    status = 403


class NotFound(SentriError):
    status = 404


class Conflict(SentriError):
    status = 409


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
            message = f"Rate limit exceeded ({exc.description}). Retry after the time in the Retry-After header."
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
