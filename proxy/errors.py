"""One error hierarchy for the whole proxy.

Backends translate their libraries' exceptions into these at the seam; the HTTP layer turns
them into OpenAI error objects (``proxy/openai/errors.py``). Nothing else needs to know which
library failed.
"""

from __future__ import annotations


class ProxyError(Exception):
    status: int = 500
    type: str = "server_error"
    code: str | None = None
    # Seconds a client should wait before trying again (sent as Retry-After), or None.
    retry_after_s: int | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code


class InvalidRequest(ProxyError):
    status = 400
    type = "invalid_request_error"


class ContextLengthExceeded(InvalidRequest):
    code = "context_length_exceeded"


class AuthenticationError(ProxyError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class NotFound(ProxyError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class ModelNotFound(NotFound):
    code = "model_not_found"


class PayloadTooLarge(ProxyError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class Overloaded(ProxyError):
    """The model's queue is full. 503 (not 429): it is our capacity, not the client's quota,
    and the openai SDK retries both with backoff."""

    status = 503
    type = "server_error"
    code = "overloaded"
    # One second is about one short generation here; the openai SDKs honour the header.
    retry_after_s = 1


class BackendUnavailable(ProxyError):
    status = 503
    type = "server_error"
    code = "model_not_ready"


class UpstreamError(ProxyError):
    status = 502
    type = "upstream_error"
    code = "bad_gateway"


class UpstreamTimeout(ProxyError):
    status = 504
    type = "upstream_error"
    code = "gateway_timeout"


class Unsupported(InvalidRequest):
    code = "unsupported_parameter"
