"""Configuration: one msgspec type tree, built once at start and never mutated.

Sources, later ones winning: ``config.toml`` (the documented defaults at the repo root, or
``--config``), environment variables ``ATLAS_<SECTION>_<KEY>`` (e.g. ``ATLAS_SERVER_PORT=9000``,
values parsed as TOML literals, falling back to plain strings), then ``serve`` flags.
Invalid values fail at start with a message naming the key.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal, Mapping

import msgspec

from proxy.pipeline.config import PipelineConfig
from sandbox.config import SandboxConfig

ENV_PREFIX = "ATLAS_"
# Environment variables with the prefix that are not config keys.
_ENV_RESERVED = {"ATLAS_CONFIG"}


class ConfigError(ValueError):
    """Raised with a message that names the offending key."""


class _Section(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    pass


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: int = 8080
    # Empty: no authentication. Otherwise every route but /health needs `Bearer <key>`.
    api_keys: list[str] = []
    cors_origins: list[str] = []
    max_body_mb: float = 8.0
    log_format: Literal["auto", "console", "json"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # SSE comment sent when a stream has been silent this long, so no client times out.
    keepalive_s: float = 10.0


class ModelConfig(_Section):
    backend: Literal["embedded", "upstream"] = "embedded"
    # Id advertised in /v1/models; empty = derived from the model (GGUF name or upstream id).
    id: str = ""
    # Thinking markers: "auto" reads them from the chat template (e.g. <think>...</think>),
    # "none" disables, or "OPEN,CLOSE" sets them explicitly.
    thinking: str = "auto"


class EmbeddedConfig(_Section):
    # "default" (the pinned Qwen2.5-Coder-0.5B-Instruct), a GGUF path, or "hf:REPO/FILE".
    model: str = "default"
    n_ctx: int = 8192
    n_threads: int = 0  # 0 = all cores
    n_batch: int = 512
    # Requests waiting for the model beyond this are refused with 503, never left hanging.
    queue_max: int = 64
    # llama.cpp always reuses the KV cache for the prefix a request shares with the previous
    # one (the pipeline orders its prompts for that). This adds llama-cpp-python's RAM cache
    # of saved states for prefixes further back. Off by default: each saved state also
    # copies up to n_batch x vocab logits (~311 MB for Qwen2.5) that the capacity does not
    # count, so a long pipeline run grew a process past 7 GB with it on.
    prompt_cache_mb: int = 0
    # false: evaluate every prompt from its first token. Slower (no prefix reuse), but greedy
    # output then depends on the request alone: with reuse, the un-cached part of a prompt
    # is evaluated in a differently shaped batch, the logits differ in the last bits, and a
    # small model's near-tied tokens flip (docs/pipeline.md, "Reproducibility").
    reuse_prefix: bool = True
    # "auto": the GGUF's own chat template, or the transcript fallback when it has none.
    chat_template: Literal["auto", "transcript"] = "auto"
    cache_dir: str = ""  # where the default model is assembled; "" = ~/.cache/atlas-proxy


class UpstreamConfig(_Section):
    base_url: str = "http://127.0.0.1:8000/v1"
    api_key: str = ""
    # Upstream model to serve; empty = the first one its /v1/models lists.
    model: str = ""
    timeout_s: float = 600.0
    connect_timeout_s: float = 10.0
    max_retries: int = 1


class LensConfig(_Section):
    enabled: bool = True
    weights_dir: str = "lens_weights"
    allow_warnings: bool = False


class Config(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    server: ServerConfig = msgspec.field(default_factory=ServerConfig)
    model: ModelConfig = msgspec.field(default_factory=ModelConfig)
    embedded: EmbeddedConfig = msgspec.field(default_factory=EmbeddedConfig)
    upstream: UpstreamConfig = msgspec.field(default_factory=UpstreamConfig)
    pipeline: PipelineConfig = msgspec.field(default_factory=PipelineConfig)
    sandbox: SandboxConfig = msgspec.field(default_factory=SandboxConfig)
    lens: LensConfig = msgspec.field(default_factory=LensConfig)


SECTIONS = tuple(Config.__struct_fields__)


def default_config_path() -> Path:
    return Path(__file__).resolve().parent.parent / "config.toml"


def _section_keys(section: str) -> tuple[str, ...]:
    struct = {f.name: f.type for f in msgspec.structs.fields(Config)}[section]
    return struct.__struct_fields__


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name in _ENV_RESERVED:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("_")
        if section not in SECTIONS or not key:
            raise ConfigError(
                f"{name}: unknown configuration variable (sections: {', '.join(SECTIONS)})"
            )
        keys = _section_keys(section)
        if key not in keys:
            raise ConfigError(f"{name}: unknown configuration variable ([{section}] has no "
                              f"key {key!r})")
        out.setdefault(section, {})[key] = _parse_env_value(raw)
    return out


def _merge(base: dict[str, Any], over: Mapping[str, Mapping[str, Any]]) -> None:
    for section, values in over.items():
        target = base.setdefault(section, {})
        if not isinstance(target, dict):
            raise ConfigError(f"{section}: expected a table")
        target.update(values)


def load_config(
    path: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Config:
    """Build the config from file, environment and explicit overrides (e.g. CLI flags)."""
    environ = os.environ if environ is None else environ
    path = Path(path or environ.get("ATLAS_CONFIG") or default_config_path())
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    elif path != default_config_path():
        raise ConfigError(f"config file not found: {path}")
    _merge(data, _env_overrides(environ))
    _merge(data, overrides or {})
    try:
        return msgspec.convert(data, Config)
    except msgspec.ValidationError as exc:
        # msgspec names the path as `$.server.port`; say it the way a user writes it.
        raise ConfigError(f"invalid configuration: {str(exc).replace('$.', '')}") from None
