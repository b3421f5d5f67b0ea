"""What the routes call: the backend, the sandbox and the pipeline, held for the app's life.

Built in the app's lifespan and injected into handlers; no module globals. The routes know
HTTP, this module knows which model id goes where.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

from proxy.backends.base import Backend
from proxy.backends.scheduling import request_key
from proxy.config import Config
from proxy.errors import ModelNotFound
from proxy.events import EventStream
from proxy.openai import protocol as p


@dataclass
class Services:
    config: Config
    backend: Backend
    sandbox: Any = None
    pipeline: Any = None
    lens_status: dict[str, Any] = field(default_factory=lambda: {"enabled": False})
    started: int = field(default_factory=p.now)

    def variants(self) -> dict[str, str]:
        if self.pipeline is None:
            return {}
        return self.pipeline.variants(self.backend.info.id)

    def models(self) -> list[p.Model]:
        info = self.backend.info
        models = [p.Model(id=info.id, created=self.started, owned_by=info.owned_by,
                          context_length=info.context_length or None,
                          description=info.description or None)]
        for vid, description in self.variants().items():
            models.append(p.Model(id=vid, created=self.started, owned_by="atlas-proxy",
                                  context_length=info.context_length or None,
                                  description=description))
        return models

    def backend_for(self, model: str) -> Backend:
        if model == self.backend.info.id or model in self.variants():
            return self.backend
        raise ModelNotFound(
            f"The model '{model}' does not exist. Available: "
            f"{', '.join(m.id for m in self.models())}.",
            param="model",
        )

    def chat(self, request: p.ChatCompletionRequest) -> tuple[EventStream, str]:
        backend = self.backend_for(request.model)
        if self.pipeline is not None and self.pipeline.wants(request):
            return self.pipeline.run(request, request_id=request_key.get()), request.model
        return backend.chat(request), request.model

    async def health(self) -> dict[str, Any]:
        ok = await self.backend.health()
        status: dict[str, Any] = {
            "ok": ok,
            "status": "ok" if ok else "unavailable",
            "model": self.backend.info.id,
            "backend": self.config.model.backend,
            "lens": self.lens_status,
        }
        if not ok:
            status["reason"] = f"the model is not answering: {self.backend.info.description}"
        queue = getattr(self.backend, "queue", None)
        if queue is not None:
            status["queue"] = {"busy": queue.busy, "waiting": queue.waiting,
                               "max_waiting": queue.max_waiting}
        if self.sandbox is not None:
            try:
                status["sandbox"] = await self.sandbox.health()
            except Exception as exc:  # a remote sandbox that is down degrades, never 500s
                status["sandbox"] = {"status": "unavailable", "error": type(exc).__name__}
        status["process"] = process_stats()
        return status


def process_stats() -> dict[str, float]:
    """Cheap self-observation for load tests: leaks show up as growth here."""
    rss_kb = 0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
    return {"rss_mb": round(rss_kb / 1024, 1), "threads": threading.active_count(),
            "tasks": len(asyncio.all_tasks())}
