"""Litestar app factory and lifespan: the backend, sandbox and pipeline live here."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import AsyncIterator

import structlog
from litestar import Litestar, Request
from litestar.config.cors import CORSConfig
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi import OpenAPIConfig

from proxy.backends.base import Backend
from proxy.config import Config
from proxy.errors import AuthenticationError
from proxy.log import RequestContextMiddleware
from proxy.openai.errors import EXCEPTION_HANDLERS
from proxy.openai.routes import OpenAIController, health
from proxy.pipeline import Pipeline
from proxy.services import Services

log = structlog.get_logger()


async def build_backend(config: Config) -> Backend:
    if config.model.backend == "upstream":
        from proxy.backends.upstream import UpstreamBackend

        return await UpstreamBackend.connect(config.upstream, config.model)
    import asyncio

    from proxy.backends.embedded import EmbeddedBackend

    # Loading reads and maps the GGUF: keep it off the event loop.
    return await asyncio.to_thread(EmbeddedBackend, config.embedded, config.model)


def build_sandbox(config: Config):  # noqa: ANN201 - the Sandbox protocol
    from sandbox import make_sandbox

    return make_sandbox(config.sandbox)


def build_lens(config: Config, backend: Backend) -> tuple[object | None, dict]:
    if not config.lens.enabled:
        return None, {"enabled": False, "reason": "disabled in config (lens.enabled)"}
    from proxy.lens import load_lens

    weights = Path(config.lens.weights_dir)
    if not weights.is_absolute():
        weights = Path(__file__).resolve().parent.parent / weights
    return load_lens(backend, weights, allow_warnings=config.lens.allow_warnings)


def _api_key_guard(keys: frozenset[str]):  # noqa: ANN202
    def guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
        if not keys or handler.opt.get("public"):
            return
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or token.strip() not in keys:
            raise AuthenticationError(
                "Incorrect or missing API key. Send it as 'Authorization: Bearer <key>'."
            )

    return guard


def create_app(config: Config, *, backend: Backend | None = None,
               sandbox: object | None = None) -> Litestar:
    """Build the app. Tests may pass a ready backend (e.g. the scripted fake)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        own_backend = backend is None
        be = backend if backend is not None else await build_backend(config)
        sb = sandbox if sandbox is not None else build_sandbox(config)
        scorer, lens_status = build_lens(config, be)
        services = Services(config=config, backend=be, sandbox=sb, lens_status=lens_status)
        services.pipeline = Pipeline(backend=be, sandbox=sb, config=config.pipeline,
                                     scorer=scorer)
        app.state.services = services
        log.info("ready", model=be.info.id, backend=config.model.backend,
                 host=config.server.host, port=config.server.port,
                 lens=lens_status.get("enabled"))
        try:
            yield
        finally:
            log.info("shutting_down")
            if sandbox is None and sb is not None:
                await sb.aclose()
            if own_backend:
                await be.aclose()

    def provide_services(request: Request) -> Services:
        return request.app.state.services

    cors = (
        CORSConfig(allow_origins=list(config.server.cors_origins), allow_headers=["*"],
                   allow_methods=["GET", "POST", "OPTIONS"])
        if config.server.cors_origins
        else None
    )
    return Litestar(
        route_handlers=[OpenAIController, health],
        dependencies={"services": Provide(provide_services, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        guards=[_api_key_guard(frozenset(config.server.api_keys))],
        lifespan=[lifespan],
        middleware=[RequestContextMiddleware],
        cors_config=cors,
        request_max_body_size=int(config.server.max_body_mb * 1024 * 1024),
        openapi_config=OpenAPIConfig(title="atlas-proxy", version="0.1.0", path="/openapi"),
        debug=False,
    )
