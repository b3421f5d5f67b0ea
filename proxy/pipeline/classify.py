"""Is this request a code task the pipeline should take on, or chat to pass straight through?

A cheap rule set (microseconds, no model call), because it runs on every request to a pipeline
model id. It errs towards passthrough: a chat turn sent through the pipeline costs the user
minutes for nothing, while a code task passed through still gets a normal single-shot answer.
Overridable per request (``atlas.route``) and in config (``route``).
"""

from __future__ import annotations

import re

import msgspec

from proxy.openai.protocol import ChatCompletionRequest

# Language names as users write them -> the sandbox's language ids.
LANGUAGES: dict[str, str] = {
    "python": "python",
    "python3": "python",
    "py": "python",
    "javascript": "javascript",
    "js": "javascript",
    "node": "javascript",
    "typescript": "typescript",
    "ts": "typescript",
    "java": "java",
    "c++": "cpp",
    "cpp": "cpp",
    "c#": "csharp",
    "csharp": "csharp",
    "go": "go",
    "golang": "go",
    "rust": "rust",
    "ruby": "ruby",
    "php": "php",
    "swift": "swift",
    "kotlin": "kotlin",
    "bash": "bash",
    "shell": "bash",
    "sh": "bash",
    "c": "c",
    "scala": "scala",
    "haskell": "haskell",
    "lua": "lua",
    "r": "r",
}

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+#-]*)")
_PY_STUB = re.compile(r"^\s*(def|class)\s+\w+\s*[\(:]", re.M)
_PY_ASSERT = re.compile(r"^\s*assert\s+\w+\s*\(", re.M)
_IMPERATIVE = re.compile(
    r"\b(write|implement|create|complete|finish|fix|debug|build|generate|make|define|"
    r"refactor|rewrite|solve)\b",
    re.I,
)
_ARTIFACT = re.compile(
    r"\b(function|func|method|program|script|class|code|snippet|algorithm|solution|routine|"
    r"implementation|def)\b",
    re.I,
)
# Openings of questions about code rather than requests for it.
_QUESTION = re.compile(
    r"^\s*(what|why|how (do|does|is|are|can|would)|explain|describe|compare|summari[sz]e|"
    r"review|tell me|who|when|where|is it|are there|can you explain|what's)\b",
    re.I,
)
_IN_LANGUAGE = re.compile(r"\b(?:in|using|with)\s+([A-Za-z][A-Za-z0-9+#]*)(?![\w+#])")
# "a JavaScript function", "a Rust program": the language named before the artifact.
_NAMED_LANGUAGE = re.compile(
    r"\b([A-Za-z][A-Za-z0-9+#]*)\s+(?:function|program|script|code|class|method|snippet|solution)",
)


class Route(msgspec.Struct, frozen=True):
    code: bool
    reason: str
    language: str = "python"


def detect_language(text: str) -> str | None:
    """The language the user asked for or wrote in; None when nothing says."""
    for match in _IN_LANGUAGE.finditer(text):
        name = LANGUAGES.get(match.group(1).lower())
        # "in C" is ambiguous in prose ("in case"): only trust the case the user capitalised.
        if name and (name != "c" or match.group(1) == "C"):
            return name
    for match in _NAMED_LANGUAGE.finditer(text):
        name = LANGUAGES.get(match.group(1).lower())
        if name and name not in ("c", "r", "go", "sh") or (name and match.group(1)[0].isupper()):
            return name
    for match in _FENCE.finditer(text):
        name = LANGUAGES.get(match.group(1).lower())
        if name:
            return name
    if _PY_STUB.search(text) or _PY_ASSERT.search(text) or ">>> " in text:
        return "python"
    return None


def last_user_text(request: ChatCompletionRequest) -> str:
    for message in reversed(request.messages):
        if message.role == "user":
            return message.text()
    return ""


def classify(request: ChatCompletionRequest, languages: tuple[str, ...] = ("python",)) -> Route:
    """Decide from the request alone; the reason goes into the trace and the logs."""
    if request.tools or request.tool_choice not in (None, "none"):
        return Route(False, "tool-calling turn")
    last = request.messages[-1]
    if last.role in ("tool", "function") or last.tool_calls:
        return Route(False, "tool-calling turn")
    if last.role != "user":
        return Route(False, "last message is not from the user")
    if request.n > 1:
        return Route(False, "n > 1 asks for samples, not one verified answer")
    if request.response_format is not None and request.response_format.type != "text":
        return Route(False, "structured output (response_format) requested")
    text = last.text()
    if not text.strip():
        return Route(False, "empty user message")
    has_stub = bool(_PY_STUB.search(text))
    imperative = bool(_IMPERATIVE.search(text)) and bool(_ARTIFACT.search(text))
    question = bool(_QUESTION.search(text)) and not _IMPERATIVE.match(text)
    if question and not (has_stub and imperative):
        return Route(False, "a question, not a request for code")
    if not (has_stub or imperative):
        return Route(False, "no code task found")
    language = detect_language(text) or "python"
    if language not in languages:
        return Route(False, f"language {language} is not one the pipeline verifies")
    return Route(True, "function stub" if has_stub else "request for code", language)
