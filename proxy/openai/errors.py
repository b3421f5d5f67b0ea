"""Exceptions → OpenAI error objects, registered for every route, 404/405 and validation too.

Litestar's default error body is not OpenAI's shape, so every exception class that can
reach the HTTP layer is mapped here; messages are ours, never a traceback.
"""

from __future__ import annotations

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from proxy.errors import InvalidRequest, ProxyError
from proxy.openai.protocol import ErrorBody, ErrorResponse

log = structlog.get_logger()

_HTTP_TYPES = {
    400: ("invalid_request_error", None),
    401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    413: ("invalid_request_error", "request_too_large"),
    415: ("invalid_request_error", "unsupported_media_type"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


def error_body(exc: ProxyError) -> ErrorResponse:
    return ErrorResponse(
        error=ErrorBody(message=exc.message, type=exc.type, param=exc.param, code=exc.code)
    )


def error_response(exc: ProxyError) -> Response:
    headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s is not None else None
    return Response(
        content=msgspec.json.encode(error_body(exc)),
        status_code=exc.status,
        media_type="application/json",
        headers=headers,
    )


def _proxy_error_handler(_: Request, exc: ProxyError) -> Response:
    log.info("request_error", status=exc.status, code=exc.code, error=exc.message)
    return error_response(exc)


def _validation_handler(request: Request, exc: ValidationException) -> Response:
    """Litestar's validation detail lists {message, key}; OpenAI names one `param`."""
    problems = exc.extra if isinstance(exc.extra, list) else []
    first = next((e for e in problems if isinstance(e, dict)), None)
    if first is None:
        return _http_exception_handler(request, exc)
    key = first.get("key")
    if key == "data" or key is None:
        key = None
    message = str(first.get("message") or "Invalid request")
    message = f"Invalid request body: {message}" + (f" (at '{key}')" if key else "")
    return error_response(InvalidRequest(message, param=key))


def _http_exception_handler(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    kind, code = _HTTP_TYPES.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
    message = exc.detail or "error"
    if status == 404:
        message = f"Unknown route: {request.method} {request.url.path}"
    elif status == 405:
        message = f"Method {request.method} not allowed for {request.url.path}"
    elif status == 413:
        message = "Request body too large"
    err = ProxyError(message, code=code)
    err.status, err.type = status, kind
    return error_response(err)


def _undecodable_body_handler(_: Request, exc: Exception) -> Response:
    # Raised while decoding the body: too deeply nested, or not UTF-8.
    reason = "nested too deeply" if isinstance(exc, RecursionError) else "not valid UTF-8 JSON"
    return error_response(InvalidRequest(f"Could not parse the request body: {reason}."))


def _unexpected_handler(_: Request, exc: Exception) -> Response:
    log.exception("unhandled_error", error_type=type(exc).__name__)
    err = ProxyError("The server had an error while processing your request.")
    err.status = HTTP_500_INTERNAL_SERVER_ERROR
    return error_response(err)


EXCEPTION_HANDLERS = {
    ProxyError: _proxy_error_handler,
    ValidationException: _validation_handler,
    HTTPException: _http_exception_handler,
    RecursionError: _undecodable_body_handler,
    UnicodeDecodeError: _undecodable_body_handler,
    msgspec.DecodeError: _undecodable_body_handler,
    Exception: _unexpected_handler,
}
