"""Turning chat messages into a prompt for a GGUF model: its own template, or a fallback.

The GGUF's ``tokenizer.chat_template`` is rendered with llama-cpp-python's Jinja formatter,
exactly as its own server would. A GGUF without a template (a base model) gets the
*transcript* fallback instead of llama-cpp-python's silent guess of llama-2 tags:

    <system text>

    User: <message>

    Assistant: <message>

    User: <message>

    Assistant:

with ``\\nUser:`` as a stop sequence. Base models continue such a transcript sensibly, and
it contains no model-specific tags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from proxy.errors import Unsupported
from proxy.openai.protocol import ChatMessage

TRANSCRIPT_STOPS = ["\nUser:", "\n\nUser:"]


@dataclass(frozen=True)
class RenderedPrompt:
    text: str
    stop: list[str]
    # True when the template already wrote BOS and special tokens: tokenize without adding.
    added_special: bool


def message_dicts(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    out = []
    for i, m in enumerate(messages):
        if isinstance(m.content, list) and any(p.type != "text" for p in m.content):
            raise Unsupported(
                "Only text content is supported by this model.", param=f"messages[{i}].content"
            )
        d: dict[str, Any] = {"role": "system" if m.role == "developer" else m.role,
                             "content": m.text()}
        if m.name:
            d["name"] = m.name
        if m.tool_calls:
            d["tool_calls"] = [
                {"id": c.id, "type": c.type,
                 "function": {"name": c.function.name, "arguments": c.function.arguments}}
                for c in m.tool_calls
            ]
        if m.tool_call_id:
            d["tool_call_id"] = m.tool_call_id
        out.append(d)
    return out


def render_transcript(messages: list[dict[str, Any]]) -> RenderedPrompt:
    parts: list[str] = []
    for m in messages:
        role, content = m["role"], m.get("content") or ""
        if role == "system":
            parts.append(content.strip())
        elif role == "assistant":
            parts.append(f"Assistant: {content.strip()}")
        elif role == "tool":
            parts.append(f"Tool result: {content.strip()}")
        else:
            parts.append(f"User: {content.strip()}")
    parts.append("Assistant:")
    return RenderedPrompt("\n\n".join(p for p in parts if p), list(TRANSCRIPT_STOPS), False)


class TemplateRenderer:
    """Renders with the GGUF's Jinja chat template."""

    def __init__(self, template: str, bos_token: str, eos_token: str) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._formatter = Jinja2ChatFormatter(
            template=template, eos_token=eos_token, bos_token=bos_token
        )
        self._eos = eos_token

    def render(self, messages: list[dict[str, Any]], tools: list[dict] | None) -> RenderedPrompt:
        result = self._formatter(messages=messages, tools=tools)
        stop = result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
        return RenderedPrompt(result.prompt, [s for s in stop if s], result.added_special)


def thinking_markers(setting: str, template: str | None) -> tuple[str, str] | None:
    """Markers around a model's thinking: from config, or detected in its chat template."""
    if setting == "none":
        return None
    if setting != "auto":
        open_, _, close = setting.partition(",")
        if not open_ or not close:
            raise ValueError("model.thinking must be 'auto', 'none' or 'OPEN,CLOSE'")
        return open_.strip(), close.strip()
    if template and "<think>" in template and "</think>" in template:
        return "<think>", "</think>"
    return None
