"""The ATLAS pipeline: test-time compute for code tasks behind an ordinary chat completion.

``Pipeline`` is the entry point the routes use: ``variants`` for ``/v1/models``, ``wants`` to
decide pipeline vs passthrough, ``run`` to produce the event stream. See docs/pipeline.md.
"""

from __future__ import annotations

from proxy.backends.base import Backend
from proxy.backends.prompting import message_dicts
from proxy.errors import InvalidRequest, Unsupported
from proxy.events import EventStream
from proxy.openai.protocol import ChatCompletionRequest
from proxy.pipeline.classify import Route, classify, detect_language, last_user_text
from proxy.pipeline.config import VARIANTS, PipelineConfig, merged
from proxy.pipeline.problem import Problem, extract
from proxy.pipeline.run import pipeline_events
from proxy.pipeline.select import Scorer
from sandbox.types import Sandbox

__all__ = ["Pipeline", "PipelineConfig", "Problem", "Route", "Scorer", "classify", "extract"]


class Pipeline:
    def __init__(
        self,
        backend: Backend,
        sandbox: Sandbox,
        config: PipelineConfig,
        scorer: Scorer | None = None,
    ) -> None:
        self.backend = backend
        self.sandbox = sandbox
        self.config = config
        self.scorer = scorer

    def variants(self, base_model_id: str) -> dict[str, str]:
        """Model ids served beside the plain one, with descriptions for ``/v1/models``."""
        return {name: f"{desc} (on {base_model_id})" for name, (desc, _) in VARIANTS.items()}

    def _is_pipeline_model(self, model: str) -> bool:
        return model in VARIANTS or (self.config.default and model == self.backend.info.id)

    def config_for(self, request: ChatCompletionRequest) -> PipelineConfig:
        """The config for this request: server config, then the variant's knobs, then the
        request's ``atlas`` object. Raises ``InvalidRequest`` naming a bad key."""
        cfg = self.config
        if request.model in VARIANTS:
            cfg = merged(cfg, VARIANTS[request.model][1])
        return merged(cfg, request.atlas)

    def route(self, request: ChatCompletionRequest, cfg: PipelineConfig) -> Route:
        if cfg.route == "always":
            language = detect_language(last_user_text(request)) or "python"
            return Route(True, "forced by route=always", language)
        if cfg.route == "never":
            return Route(False, "route=never")
        return classify(request, tuple(cfg.languages))

    def wants(self, request: ChatCompletionRequest) -> bool:
        if not self._is_pipeline_model(request.model):
            return False
        try:
            cfg = self.config_for(request)
        except InvalidRequest:
            return True  # let run() report the bad key as a 400 instead of ignoring it
        return self.route(request, cfg).code

    def run(self, request: ChatCompletionRequest, *, request_id: str) -> EventStream:
        cfg = self.config_for(request)  # raises InvalidRequest synchronously
        decided = self.route(request, cfg)
        problem = extract(request, decided.language)
        scorer = self.scorer if cfg.lens else None
        return pipeline_events(
            backend=self.backend,
            sandbox=self.sandbox,
            cfg=cfg,
            problem=problem,
            scorer=scorer,
            request_id=request_id,
            model=request.model,
            route_reason=decided.reason,
            messages=_lens_messages(request) if scorer is not None else None,
        )


def _lens_messages(request: ChatCompletionRequest) -> list[dict] | None:
    """The request as role/content dicts, for a Lens that reads code after it; None where it
    holds non-text parts (an upstream model may take them; the Lens then answers without)."""
    try:
        return message_dicts(request.messages)
    except Unsupported:
        return None
