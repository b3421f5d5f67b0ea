"""The embedded backend: one GGUF model in process through llama-cpp-python.

llama.cpp calls block and the model is not re-entrant, so every call runs on one worker
thread, admitted through a fair, bounded slot (``scheduling.FairSlot``). Tokens cross back
to the event loop one by one; closing the event iterator (a client that went away) sets a
flag the worker checks after every token, so the model is free again within a token.

Chat requests are rendered to a prompt here (``prompting.py``) and tokenized *before*
queueing, so a prompt beyond the context window is a 400 at once, not an error mid-stream.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator

import structlog

from proxy.backends.base import Embeddings, ModelInfo
from proxy.backends.prompting import (
    RenderedPrompt,
    TemplateRenderer,
    message_dicts,
    render_transcript,
    thinking_markers,
)
from proxy.backends.scheduling import FairSlot
from proxy.config import EmbeddedConfig, ModelConfig
from proxy.errors import BackendUnavailable, ContextLengthExceeded, InvalidRequest, ProxyError
from proxy.events import Content, EventStream, Finish, Usage
from proxy.model_store import DEFAULT_MODEL, ensure_default_model
from proxy.openai.protocol import ChatCompletionRequest, CompletionRequest

log = structlog.get_logger()

DEFAULT_MODEL_ID = "qwen2.5-coder-0.5b-instruct"
EMBED_CTX = 2048
_SENTINEL = object()


def resolve_model_path(cfg: EmbeddedConfig) -> tuple[Path, str]:
    """Return (GGUF path, fingerprint) for ``embedded.model``."""
    spec = cfg.model
    if spec == "default":
        cache = Path(cfg.cache_dir) if cfg.cache_dir else None
        return ensure_default_model(cache), DEFAULT_MODEL.sha256
    if spec.startswith("hf:"):
        # Needs network access and huggingface-hub; not available on every machine.
        from llama_cpp import Llama

        repo, _, filename = spec[3:].rpartition("/")
        if not repo or not filename:
            raise ValueError("embedded.model: use hf:OWNER/REPO/FILE.gguf")
        llm = Llama.from_pretrained(repo_id=repo, filename=filename, vocab_only=True,
                                    verbose=False)
        path = Path(llm.model_path)
        del llm
        return path, f"hf:{spec[3:]}"
    path = Path(spec).expanduser()
    if not path.is_file():
        raise ValueError(f"embedded.model: no such file: {path}")
    st = path.stat()
    return path, f"file:{path.name}:{st.st_size}"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", name.lower()).strip("-") or "model"


class EmbeddedBackend:
    def __init__(self, cfg: EmbeddedConfig, model_cfg: ModelConfig) -> None:
        from llama_cpp import Llama, LlamaRAMCache

        self._cfg = cfg
        self.path, fingerprint = resolve_model_path(cfg)
        self._threads = cfg.n_threads or os.cpu_count() or 1
        self._llm = Llama(
            model_path=str(self.path),
            n_ctx=cfg.n_ctx,
            n_threads=self._threads,
            n_threads_batch=self._threads,
            n_batch=cfg.n_batch,
            verbose=False,
        )
        if cfg.prompt_cache_mb > 0 and cfg.reuse_prefix:
            self._llm.set_cache(LlamaRAMCache(capacity_bytes=cfg.prompt_cache_mb << 20))
        self._embedder: Any = None
        self._in_context: Any = None  # InContextEmbedder, made on first use
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")
        self._slot = FairSlot(cfg.queue_max)
        meta = self._llm.metadata
        template = meta.get("tokenizer.chat_template")
        model = self._llm._model
        eos = model.token_get_text(self._llm.token_eos()) if self._llm.token_eos() != -1 else ""
        bos = model.token_get_text(self._llm.token_bos()) if self._llm.token_bos() != -1 else ""
        self._eos_text = eos
        self._renderer = (
            TemplateRenderer(template, bos, eos)
            if template and cfg.chat_template == "auto"
            else None
        )
        default_id = DEFAULT_MODEL_ID if cfg.model == "default" else _slug(
            meta.get("general.name") or self.path.stem
        )
        self._info = ModelInfo(
            id=model_cfg.id or default_id,
            context_length=cfg.n_ctx,
            owned_by="atlas-proxy",
            has_chat_template=self._renderer is not None,
            thinking=thinking_markers(model_cfg.thinking, template),
            fingerprint=fingerprint,
            description=f"{self.path.name} (llama.cpp, in process)",
            concurrency=1,
            in_context_embeddings=True,
        )
        log.info("model_loaded", model=self._info.id, path=str(self.path), n_ctx=cfg.n_ctx,
                 chat_template=self._info.has_chat_template, threads=self._threads)

    # --- Backend protocol -----------------------------------------------------------------

    @property
    def info(self) -> ModelInfo:
        return self._info

    @property
    def queue(self) -> FairSlot:
        return self._slot

    def render_chat(self, request: ChatCompletionRequest) -> RenderedPrompt:
        return self._render(message_dicts(request.messages))

    def _render(self, messages: list[dict[str, Any]]) -> RenderedPrompt:
        if self._renderer is None:
            return render_transcript(messages)
        return self._renderer.render(messages, None)

    def chat(self, request: ChatCompletionRequest) -> EventStream:
        rendered = self.render_chat(request)
        tokens = self._tokenize(rendered.text, add_bos=not rendered.added_special)
        max_tokens = self._check_context(len(tokens), request.max_new_tokens, "messages")
        kwargs = self._sampling(request, max_tokens, rendered.stop + request.stop_list)
        kwargs["grammar"] = self._grammar(request)
        self._slot.check_capacity()
        return self._generate(tokens, kwargs, request.n, request.seed)

    def complete(self, request: CompletionRequest) -> EventStream:
        if isinstance(request.prompt, list) and request.prompt and isinstance(
            request.prompt[0], str
        ):
            if len(request.prompt) != 1:
                raise InvalidRequest("Only one prompt per request is supported.", param="prompt")
            prompt: str | list[int] = request.prompt[0]
        else:
            prompt = request.prompt  # type: ignore[assignment]
        tokens = (
            list(prompt) if isinstance(prompt, list) else self._tokenize(prompt, add_bos=True)
        )
        if not tokens:
            tokens = [self._llm.token_bos()]
        requested = request.max_tokens if request.max_tokens else None
        max_tokens = self._check_context(len(tokens), requested, "prompt")
        kwargs = self._sampling(request, max_tokens, request.stop_list)
        if request.suffix:
            raise InvalidRequest("suffix (fill-in-the-middle) is not supported.", param="suffix")
        self._slot.check_capacity()
        return self._generate(tokens, kwargs, request.n, request.seed, echo=request.echo)

    async def embed(self, texts: list[str]) -> Embeddings:
        await self._slot.acquire()
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._executor, self._embed_blocking, texts
            )
        finally:
            self._slot.release()

    async def embed_in_context(
        self, messages: list[dict[str, Any]], lead: str, answers: list[str]
    ) -> Embeddings:
        rendered = self._render(messages)
        await self._slot.acquire()
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._executor, self._embed_in_context_blocking, rendered.text, lead, answers
            )
        finally:
            self._slot.release()

    async def count_tokens(self, text: str) -> int:
        return len(self._tokenize(text, add_bos=False))

    async def health(self) -> bool:
        return self._llm is not None and not self._executor._shutdown

    async def aclose(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        for llm in (self._llm, self._embedder, self._in_context):
            if llm is not None:
                llm.close()

    # --- internals --------------------------------------------------------------------------

    def _tokenize(self, text: str, *, add_bos: bool) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8", "replace"), add_bos=add_bos, special=True)

    def _check_context(self, n_prompt: int, requested: int | None, param: str) -> int:
        n_ctx = self._info.context_length
        if n_prompt + (requested or 1) > n_ctx:
            raise ContextLengthExceeded(
                f"This model's maximum context length is {n_ctx} tokens. However, you requested "
                f"{n_prompt + (requested or 0)} tokens ({n_prompt} in the {param}, "
                f"{requested or 0} for the completion). Please reduce the length of the "
                f"{param} or the completion.",
                param=param,
            )
        return requested or (n_ctx - n_prompt)

    @staticmethod
    def _sampling(request: ChatCompletionRequest | CompletionRequest, max_tokens: int,
                  stop: list[str]) -> dict[str, Any]:
        logit_bias = None
        if request.logit_bias:
            try:
                logit_bias = {int(k): float(v) for k, v in request.logit_bias.items()}
            except ValueError:
                raise InvalidRequest("logit_bias keys must be token ids.", param="logit_bias")
        return {
            "max_tokens": max_tokens,
            # OpenAI's defaults when the client leaves them out.
            "temperature": 1.0 if request.temperature is None else request.temperature,
            "top_p": 1.0 if request.top_p is None else request.top_p,
            "presence_penalty": request.presence_penalty or 0.0,
            "frequency_penalty": request.frequency_penalty or 0.0,
            "stop": stop or None,
            "logit_bias": logit_bias,
        }

    def _grammar(self, request: ChatCompletionRequest) -> Any:
        fmt = request.response_format
        if fmt is None or fmt.type == "text":
            return None
        from llama_cpp import LlamaGrammar
        from llama_cpp.llama_grammar import JSON_GBNF

        if fmt.type == "json_object":
            return LlamaGrammar.from_string(JSON_GBNF, verbose=False)
        schema = (fmt.json_schema or {}).get("schema")
        if not isinstance(schema, dict):
            raise InvalidRequest("response_format.json_schema.schema must be an object.",
                                 param="response_format")
        try:
            return LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
        except Exception as exc:  # the converter rejects some schemas
            raise InvalidRequest(f"Unsupported JSON schema: {exc}", param="response_format")

    async def _generate(
        self, tokens: list[int], kwargs: dict[str, Any], n: int, seed: int | None,
        echo: bool = False,
    ) -> EventStream:
        loop = asyncio.get_running_loop()
        completion_tokens = 0
        for index in range(n):
            queue: asyncio.Queue[Any] = asyncio.Queue()
            cancel = threading.Event()
            put: Callable[[Any], None] = lambda item, q=queue: loop.call_soon_threadsafe(
                q.put_nowait, item
            )
            choice_seed = None if seed is None else seed + index
            await self._slot.acquire()
            try:
                job = self._executor.submit(
                    self._generate_blocking, tokens, kwargs, choice_seed, cancel, put
                )
            except RuntimeError:
                self._slot.release()
                raise BackendUnavailable("The model is shutting down.") from None
            job.add_done_callback(lambda _: loop.call_soon_threadsafe(self._slot.release))
            try:
                if echo:
                    yield Content(self._llm.detokenize(tokens).decode("utf-8", "replace"), index)
                while (item := await queue.get()) is not _SENTINEL:
                    if isinstance(item, BaseException):
                        raise item
                    text, finish, generated = item
                    if text:
                        yield Content(text, index)
                    if finish:
                        completion_tokens += generated
                        yield Finish(finish, index)
            finally:
                cancel.set()
        yield Usage(prompt_tokens=len(tokens), completion_tokens=completion_tokens)

    def _generate_blocking(
        self, tokens: list[int], kwargs: dict[str, Any], seed: int | None,
        cancel: threading.Event, put: Callable[[Any], None],
    ) -> None:
        stream: Iterator[Any] | None = None
        try:
            if cancel.is_set():
                return
            if seed is not None:
                self._llm.set_seed(seed)
            if not self._cfg.reuse_prefix:
                self._llm.reset()  # forget the KV cache's tokens: no prefix match
            stream = self._llm.create_completion(tokens, stream=True, **kwargs)  # type: ignore[assignment]
            pieces: list[str] = []
            for chunk in stream:
                if cancel.is_set():
                    return
                choice = chunk["choices"][0]
                text = choice.get("text") or ""
                pieces.append(text)
                finish = choice.get("finish_reason")
                generated = 0
                if finish:
                    generated = len(self._tokenize("".join(pieces), add_bos=False))
                put((text, finish, generated))
        except ValueError as exc:
            put(InvalidRequest(str(exc)))
        except Exception as exc:  # surface as a clean error, never a dead stream
            log.exception("generation_failed")
            put(ProxyError(f"generation failed: {type(exc).__name__}"))
        finally:
            if stream is not None and hasattr(stream, "close"):
                stream.close()
            put(_SENTINEL)

    def _embed_in_context_blocking(self, prompt: str, lead: str,
                                   answers: list[str]) -> Embeddings:
        from proxy.backends.in_context import InContextEmbedder

        if self._in_context is None:
            self._in_context = InContextEmbedder(self.path, self._threads)
        vectors, count = self._in_context.embed(prompt, lead, answers)
        return Embeddings(vectors=vectors.astype(float).tolist(), prompt_tokens=count)

    def _embed_blocking(self, texts: list[str]) -> Embeddings:
        from llama_cpp import LLAMA_POOLING_TYPE_MEAN, Llama

        if self._embedder is None:
            # A second context on the same file: the weights are mmap'ed, so their pages are
            # shared with the generation context; only its own buffers cost memory.
            # Embedding needs the whole input in one micro-batch, and attention scratch grows
            # with its square: 8192 tokens would cost ~4 GB, 2048 about 0.25 GB. Candidates
            # are far shorter; longer inputs are truncated.
            n_ctx = min(self._cfg.n_ctx, EMBED_CTX)
            self._embedder = Llama(
                model_path=str(self.path), embedding=True, n_ctx=n_ctx,
                n_batch=n_ctx, n_ubatch=n_ctx,
                n_threads=self._threads, n_threads_batch=self._threads,
                pooling_type=LLAMA_POOLING_TYPE_MEAN, verbose=False,
            )
        vectors, count = self._embedder.embed(texts, normalize=False, truncate=True,
                                              return_count=True)
        return Embeddings(vectors=[list(map(float, v)) for v in vectors], prompt_tokens=count)
