"""Robust code extraction from model output: fenced blocks (closed or cut off), raw code,
code after prose; then made runnable for the sandbox.

Small models break formats in every way: no fence, two fences, a fence cut by the token
limit, the function without the stub's imports, example calls or ``input()`` at top level,
a repetition loop at the end. Each of these is repaired here so a candidate is judged on its
idea, not on its typography.
"""

from __future__ import annotations

import ast
import re

from proxy.pipeline.classify import LANGUAGES

_FENCE = re.compile(
    r"^[ \t]*```[ \t]*([A-Za-z0-9_+#.-]*)[^\n]*\n(.*?)(?:^[ \t]*```|\Z)", re.S | re.M
)
_CODE_START = re.compile(r"^(def |class |import |from |@|async def )", re.M)


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language tag, body) of every fenced block; an unclosed last block runs to the end."""
    return [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]


def parses(code: str) -> bool:
    try:
        ast.parse(code)
        return True
    except (SyntaxError, ValueError):
        return False


def defines(code: str, name: str) -> bool:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return bool(re.search(rf"^\s*(async\s+)?def\s+{re.escape(name)}\s*\(", code, re.M))
    return any(
        isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == name
        for n in ast.walk(tree)
    )


def _trim_to_parse(code: str, max_drop: int = 40) -> str:
    """Drop trailing lines (a cut-off or looping tail) until the code parses."""
    lines = code.rstrip().splitlines()
    for drop in range(0, min(max_drop, len(lines))):
        chunk = "\n".join(lines[: len(lines) - drop])
        if chunk.strip() and parses(chunk):
            return chunk
    return code


def _collapse_repetition(code: str) -> str:
    """Cut a degenerate loop: the same non-trivial line repeated many times in a row."""
    lines = code.splitlines()
    out: list[str] = []
    run = 0
    for line in lines:
        run = run + 1 if out and line == out[-1] and line.strip() else 0
        if run >= 4:
            break
        out.append(line)
    return "\n".join(out)


def extract_code(text: str, language: str = "python", entry_point: str | None = None) -> str:
    """The candidate's code, or "" when the output holds none."""
    text = text.replace("\r\n", "\n")
    blocks = fenced_blocks(text)
    if language == "python":
        tagged = [b for tag, b in blocks if LANGUAGES.get(tag, tag or "python") == "python"]
    else:
        tagged = [b for tag, b in blocks if LANGUAGES.get(tag, tag) == language or not tag]
    pool = tagged or [b for _, b in blocks]
    if pool:
        if entry_point:
            defining = [b for b in pool if defines(b, entry_point)]
            pool = defining or pool
        # The longest block that defines the entry point: the others are usually usage demos.
        code = max(pool, key=len)
    elif language == "python":
        match = _CODE_START.search(text)
        code = text[match.start() :] if match else (text if parses(text) else "")
    else:
        code = text
    code = _collapse_repetition(code.strip("\n"))
    if language == "python" and code and not parses(code):
        code = _trim_to_parse(code)
    return code.strip("\n")


def prose(text: str) -> str:
    """The model's words outside code blocks (its explanation), whitespace-normalised."""
    without = _FENCE.sub("", text)
    return re.sub(r"\n{3,}", "\n\n", without).strip()


def _is_demo(node: ast.stmt) -> bool:
    """Top-level statements that run the code instead of defining it: example calls, prints,
    asserts, ``input()``, ``if __name__ == "__main__":``. They would run (and could block or
    fail) before the tests, and the tests are ours to run."""
    if isinstance(node, (ast.Expr, ast.Assert)):
        return not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
    if isinstance(node, ast.If):
        test = ast.unparse(node.test)
        return "__name__" in test
    if isinstance(node, (ast.For, ast.While, ast.With, ast.Assign)):
        # Loops and assignments may build tables the code needs; only I/O makes them demos.
        return any(
            isinstance(n, ast.Call)
            and isinstance(n.func, ast.Name)
            and n.func.id in ("input", "print")
            for n in ast.walk(node)
        )
    return False


def runnable(code: str, imports: list[str] | None = None) -> str:
    """Python code ready to be tested: demos stripped, the stub's missing imports added.
    This is also the code the answer shows: the user gets exactly what was tested."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return code
    kept = [n for n in tree.body if not _is_demo(n)]
    if len(kept) != len(tree.body):
        lines = code.splitlines()

        def start(n: ast.stmt) -> int:
            return min([n.lineno, *(d.lineno for d in getattr(n, "decorator_list", []))])

        code = "\n".join("\n".join(lines[start(n) - 1 : n.end_lineno]) for n in kept)
        code = re.sub(r"\n(?=(def |class |@))", "\n\n\n", code)
    missing = [i for i in imports or [] if i.strip() and i.strip() not in code]
    if missing:
        code = "\n".join(missing) + "\n\n\n" + code
    return code.strip("\n")
