"""Problem extraction: the task, the target language, the function signature and the examples
the prompt itself gives (doctests, asserts the user wrote, "f(x) == y" / "f(x) -> y" lines,
"Input: ... Output: ..." blocks).

No model call: it is parsing. The examples become assert lines; they are the only tests the
pipeline can trust (the model's own tests are noisy), so extraction is conservative: an
example whose expected value is not a clean literal (``f(x) -> 19 - 5 - 6 = 8``) is dropped
rather than guessed.
"""

from __future__ import annotations

import ast
import re

import msgspec

from proxy.openai.protocol import ChatCompletionRequest
from proxy.pipeline.classify import detect_language, last_user_text


class Example(msgspec.Struct, frozen=True):
    test: str  # the assert line run in the sandbox
    call: str  # the call, as written ("f(1, 2)")
    expected: str  # the expected value's source ("3")
    source: str  # "doctest" | "assert" | "prose" | "io"


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    text: str  # the user's task, as sent
    instructions: str = ""  # the system/developer messages (format wishes live there too)
    language: str = "python"
    entry_point: str | None = None
    signature: str | None = None  # "def f(a: int) -> int:"
    params: list[str] = []
    stub: str | None = None  # the code the user gave (imports, helpers, the stub)
    imports: list[str] = []  # the stub's import lines, prepended to candidates lacking them
    examples: list[Example] = []
    code_only: bool = False  # the user asked for code without explanation
    no_fence: bool = False  # ... and without markdown: the bare code (implies code_only)


_CODE_ONLY = re.compile(
    r"\b(only (the |return )?code|code only|just (the |return )?code|no explanations?|"
    r"without (any )?explanations?|do not explain|don't explain|only output the code)\b",
    re.I,
)
_NO_FENCE = re.compile(
    r"\b(no|without( any)?|don't use|do not use) (markdown|code ?fences?|backticks|fences?|"
    r"code blocks?)\b|\bplain text only\b|\braw code\b",
    re.I,
)
_FENCED = re.compile(r"```[^\n`]*\n(.*?)(?:```|\Z)", re.S)
_NAMED = re.compile(r"\b(?:function|method)\s+(?:called|named)?\s*`?([A-Za-z_]\w*)`?\s*\(", re.I)
_INPUT = re.compile(r"^\s*Input\s*:\s*(.+)$", re.I)
_OUTPUT = re.compile(r"^\s*Output\s*:\s*(.+)$", re.I)
# What may stand between a call and its expected value in prose examples.
_ARROW = re.compile(
    r"^\s*(==>|-->|==|=>|->|➞|→|=|should return|should be|returns|return|gives)\s*", re.I
)


def _parses(src: str, mode: str = "exec") -> bool:
    try:
        ast.parse(src, mode=mode)
        return True
    except (SyntaxError, ValueError):
        return False


def _literal(src: str) -> bool:
    try:
        ast.literal_eval(src)
        return True
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False


def _has_float(src: str) -> bool:
    try:
        node = ast.parse(src, mode="eval")
    except SyntaxError:
        return False
    return any(isinstance(n, ast.Constant) and isinstance(n.value, float) for n in ast.walk(node))


def make_assert(call: str, expected: str) -> str:
    """An assert line comparing ``call`` with ``expected``; floats compare with a tolerance
    because a docstring prints 0.5 where the code may compute 0.49999999999999994."""
    if expected == "None":
        return f"assert {call} is None"
    if _has_float(expected):
        return f"assert _atlas_close({call}, {expected})"
    return f"assert {call} == {expected}"


# Defined before float comparisons run (see ``selftest.exec_request``).
CLOSE_HELPER = """
def _atlas_close(a, b, tol=1e-6):
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_atlas_close(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) <= tol * max(1.0, abs(b))
    return a == b
"""


def _balanced_call(line: str, start: int) -> int | None:
    """Index just past the parenthesis closing the one opened at ``start``, string-aware."""
    depth, quote, i = 0, "", start
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def _clean_expected(rest: str) -> str | None:
    rest = rest.strip().strip("`").rstrip(".,;").strip().strip("`")
    return rest if rest and _literal(rest) else None


def _doctests(doc: str, entry: str) -> list[Example]:
    out: list[Example] = []
    lines = doc.splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped.startswith(">>> "):
            continue
        call = stripped[4:].strip()
        if not re.match(rf"(print\()?{re.escape(entry)}\s*\(", call) or not _parses(call, "eval"):
            continue
        expected_lines = []
        for nxt in lines[i + 1 :]:
            value = nxt.strip()
            if not value or value.startswith((">>>", '"""', "'''")):
                break
            closes = value.endswith(('"""', "'''"))  # "3"""": the docstring ends here
            expected_lines.append(value[:-3].rstrip() if closes else value)
            if closes:
                break
        expected = " ".join(expected_lines)
        if call.startswith("print("):
            # print(f(x)) shows str(), not repr(): compare the printed text.
            inner = call[len("print(") : -1]
            out.append(
                Example(f"assert str({inner}) == {expected!r}", call, repr(expected), "doctest")
            )
            continue
        node = ast.parse(call, mode="eval").body
        if not isinstance(node, (ast.Call, ast.Compare)):
            continue  # e.g. "f(x) [1, 2]": output pasted on the call's line
        if isinstance(node, ast.Compare) and expected in ("", "True"):
            # ">>> f(x) == y" with no output line: the line itself is the check.
            out.append(Example(f"assert {call}", call, "True", "doctest"))
            continue
        if not expected:
            expected = "None"
        if not _parses(expected, "eval") or "Traceback" in expected:
            continue
        out.append(Example(make_assert(call, expected), call, expected, "doctest"))
    return out


def _prose_examples(text: str, entry: str) -> list[Example]:
    out: list[Example] = []
    for line in text.splitlines():
        if line.strip().startswith((">>>", "assert ", "def ", "return ")):
            continue
        for match in re.finditer(rf"(?<![\w.]){re.escape(entry)}\s*\(", line):
            end = _balanced_call(line, match.end() - 1)
            if end is None:
                continue
            call = line[match.start() : end]
            arrow = _ARROW.match(line[end:])
            if not arrow or not _literal_args(call):
                continue
            expected = _clean_expected(line[end + arrow.end() :])
            if expected is not None:
                out.append(Example(make_assert(call, expected), call, expected, "prose"))
    return out


def _literal_args(call: str) -> bool:
    """Prose like ``is_happy(abcd) => True`` names no real value: only literal arguments."""
    try:
        node = ast.parse(call, mode="eval").body
    except SyntaxError:
        return False
    return isinstance(node, ast.Call) and all(
        _literal(ast.unparse(a)) for a in [*node.args, *(k.value for k in node.keywords)]
    )


def _kind(expected: str) -> str:
    value = ast.literal_eval(expected)
    return "number" if type(value) in (int, float) else type(value).__name__


def _consistent(examples: list[Example]) -> list[Example]:
    """Prose examples whose expected values disagree in type are definitions mixed with
    examples ("tri(4) = 3" beside "tri(3) = [1, 3, 2, 8]"): keep the kind written last, where
    docstrings put their "Examples:" section."""
    kinds = {_kind(e.expected) for e in examples}
    if len(kinds) <= 1:
        return examples
    last = _kind(examples[-1].expected)
    return [e for e in examples if _kind(e.expected) == last]


def _asserts(text: str, entry: str) -> list[Example]:
    out: list[Example] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("assert ") or entry not in stripped or not _parses(stripped):
            continue
        test = ast.parse(stripped).body[0].test  # type: ignore[attr-defined]
        if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
            call, expected = ast.unparse(test.left), ast.unparse(test.comparators[0])
        else:
            call, expected = ast.unparse(test), "True"
        out.append(Example(stripped, call, expected, "assert"))
    return out


def _io_examples(text: str, entry: str, params: list[str]) -> list[Example]:
    """LeetCode-style "Input: a = 1, b = [2]" / "Output: 3" pairs, mapped onto the signature."""
    out: list[Example] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = _INPUT.match(line)
        if not m:
            continue
        o = next((_OUTPUT.match(x) for x in lines[i + 1 : i + 4] if _OUTPUT.match(x)), None)
        expected = _clean_expected(o.group(1)) if o else None
        if expected is None:
            continue
        args_src = m.group(1).strip().rstrip(".")
        try:
            call_node = ast.parse(f"f({args_src})", mode="eval").body
        except SyntaxError:
            call_node = None
        if isinstance(call_node, ast.Call) and len(params) == 1 and _literal(args_src):
            call = f"{entry}({args_src})"
        elif (
            isinstance(call_node, ast.Call)
            and not call_node.args
            and params
            and [kw.arg for kw in call_node.keywords] == params[: len(call_node.keywords)]
            and len(call_node.keywords) == len(params)
        ):
            call = f"{entry}({', '.join(ast.unparse(kw.value) for kw in call_node.keywords)})"
        else:
            # "Input: a = 1, b = 2" parses as a tuple of assignments only in this form.
            parts = [p.split("=", 1) for p in re.split(r",\s*(?=[A-Za-z_]\w*\s*=)", args_src)]
            if len(parts) != len(params) or any(len(p) != 2 for p in parts):
                continue
            if [p[0].strip() for p in parts] != params or not all(_literal(p[1]) for p in parts):
                continue
            call = f"{entry}({', '.join(p[1].strip() for p in parts)})"
        out.append(Example(make_assert(call, expected), call, expected, "io"))
    return out


def _code_region(text: str) -> str | None:
    """The code the user gave: the whole text when it parses (HumanEval-style prompts), else
    the fenced blocks, else the lines from the first ``def``/``import`` on that parse."""
    if re.search(r"^\s*(def|class)\s", text, re.M) and _parses(text):
        return text
    blocks = [b for b in _FENCED.findall(text) if re.search(r"^\s*(def|class)\s", b, re.M)]
    if blocks:
        return "\n\n".join(blocks)
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"(def|class|from|import|@)\s?", line):
            for j in range(len(lines), i, -1):
                chunk = "\n".join(lines[i:j])
                if "def " in chunk and _parses(chunk):
                    return chunk
            break
    return None


def _is_stub(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    body = list(fn.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    return all(
        isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
        for s in body
    )


def extract(request: ChatCompletionRequest, language: str | None = None) -> Problem:
    text = last_user_text(request)
    instructions = "\n".join(
        m.text() for m in request.messages if m.role in ("system", "developer")
    )
    language = language or detect_language(text) or "python"
    no_fence = bool(_NO_FENCE.search(text) or _NO_FENCE.search(instructions))
    code_only = no_fence or bool(_CODE_ONLY.search(text) or _CODE_ONLY.search(instructions))
    if language != "python":
        return Problem(text=text, instructions=instructions, language=language,
                       code_only=code_only, no_fence=no_fence)

    stub = _code_region(text)
    entry = signature = None
    params: list[str] = []
    imports: list[str] = []
    if stub:
        tree = ast.parse(stub)
        fns = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        stubs = [f for f in fns if _is_stub(f)]
        target = (stubs or fns or [None])[-1]
        if target is not None:
            entry = target.name
            params = [a.arg for a in target.args.posonlyargs + target.args.args]
            signature = stub.splitlines()[target.lineno - 1].strip()
        imports = [
            ast.get_source_segment(stub, n) or ""
            for n in tree.body
            if isinstance(n, (ast.Import, ast.ImportFrom))
        ]
    if entry is None:
        called = re.search(r"^\s*assert\s+(?:not\s+)?\(?\s*([A-Za-z_]\w*)\s*\(", text, re.M)
        named = _NAMED.search(text)
        entry = called.group(1) if called else named.group(1) if named else None
        if entry in ("set", "sorted", "len", "abs", "math", "round", "isinstance", "str"):
            entry = None

    examples: list[Example] = []
    if entry:
        docs = text
        examples = _asserts(text, entry) + _doctests(docs, entry)
        examples += _consistent(_prose_examples(docs, entry))
        examples += _io_examples(docs, entry, params)
    seen: set[str] = set()
    unique = []
    for ex in examples:
        if ex.test not in seen and _parses(ex.test):
            seen.add(ex.test)
            unique.append(ex)
    return Problem(
        text=text,
        instructions=instructions,
        language=language,
        entry_point=entry,
        signature=signature,
        params=params,
        stub=stub,
        imports=[i for i in imports if i],
        examples=unique,
        code_only=code_only,
        no_fence=no_fence,
    )


def call_key(call: str) -> str:
    """A normal form of a call, so "f(1,2)" and "f(1, 2)" are the same input."""
    try:
        return ast.dump(ast.parse(call, mode="eval"))
    except SyntaxError:
        return call.replace(" ", "")
