"""Every stage prompt, in one place, in two forms: chat messages (instruct models) and plain
completion text (base models without a chat template).

Prefix sharing (why the layout is fixed): every chat prompt of one request starts with the
same system message and the same problem block, and puts what varies (plan, approach hint,
failing code) last. llama.cpp's prefix cache then skips the shared part's prompt processing
for every call after the first, which on a CPU is most of a short call's cost.

No model-specific tags: thinking markers come from ``ModelInfo.thinking``, templates from the
backend.
"""

from __future__ import annotations

import msgspec

from proxy.pipeline.problem import Problem


class Prompt(msgspec.Struct, frozen=True, kw_only=True):
    messages: list[dict[str, str]] | None = None  # chat form
    text: str | None = None  # completion form
    # Every call is seeded, so a sampled call repeats itself exactly; plain samples of the
    # same prompt differ by their seed alone.
    seed: int = 0
    # Completion form: text that belongs before the model's continuation (the stub the model
    # completes), so ``prefix + output`` is the whole answer.
    prefix: str = ""
    stop: list[str] = []


# Approach hints for diversity: they differ in *what* they try, not in sampling noise
# (on a 0.5B model high-temperature noise buys nothing; see ATLAS_NOTES.md).
APPROACHES: tuple[str, ...] = (
    "Work through each example by hand first (in comments), then write code that reproduces "
    "exactly those results.",
    "Restate the exact rule from the description as a comment, then implement it literally, "
    "handling the boundary cases it mentions (empty input, one element, ties, negatives).",
    "Use Python's built-ins and standard library (sorted, sum, zip, collections, itertools) for "
    "a short, direct solution.",
    "Use a plain loop with clearly named variables; avoid clever one-liners.",
    "Split the work into a small helper function for the core step, then combine.",
    "Think about the mathematical structure first; use a formula where one exists.",
    "Consider recursion or dynamic programming if the problem has overlapping subproblems.",
    "Check every constraint in the description one by one before returning.",
    "Write the simplest brute-force solution that is obviously correct.",
    "Process the input in a single pass, keeping only the state you need.",
    "Build the answer incrementally and sort or deduplicate at the end if order matters.",
    "Convert the input to a convenient form first (string, list, set, dict), then solve.",
)

PERSPECTIVES: tuple[tuple[str, str], ...] = (
    (
        "Logical consistency",
        "does each step follow from the description, and where does the "
        "computed value first diverge from the expected one?",
    ),
    ("Completeness", "which cases or requirements in the description does the code ignore?"),
    (
        "Hidden assumptions",
        "what does the code assume about the input that the task never promised?",
    ),
    ("Alternative solutions", "what different approach would avoid this failure?"),
)

# Base-model continuations stop where a new top-level statement would begin.
CODE_STOPS = ["\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\nassert ", "\n```", "\n# Test"]


def _head_messages(problem: Problem) -> list[dict[str, str]]:
    """The user's own system message, if any; we add none, so the probe is exactly what the
    user sent (the single-shot answer, at greedy) and every other call shares its prefix."""
    return [{"role": "system", "content": problem.instructions}] if problem.instructions else []


def problem_block(problem: Problem) -> str:
    return problem.text.strip("\n")


def _fence(problem: Problem) -> str:
    return problem.language


def _code_ask(problem: Problem) -> str:
    what = (
        f"the complete function `{problem.entry_point}`" if problem.entry_point else "the solution"
    )
    return (
        f"Write {what} in a single ```{_fence(problem)} code block, with any imports it "
        "needs. Do not include tests or example usage."
    )


def _chat(problem: Problem, tail: str) -> Prompt:
    user = f"{problem_block(problem)}\n\n{tail}" if tail else problem.text
    return Prompt(messages=_head_messages(problem) + [{"role": "user", "content": user}])


def _comment(text: str) -> str:
    return "\n".join(f"# {line}".rstrip() for line in text.strip().splitlines())


def _base_head(problem: Problem) -> str:
    """The problem as a base model sees it: the stub when there is one, the task as comments
    otherwise (and a def line to start from when the entry point is known)."""
    if problem.stub:
        return problem.stub.rstrip() + "\n"
    head = f"# Task:\n{_comment(problem.text)}\n# Solution in {problem.language}:\n"
    if problem.entry_point:
        head += f"def {problem.entry_point}("
    return head


# --- stages ------------------------------------------------------------------------------


def code(problem: Problem, chat: bool, hint: str = "", plan: str = "", notes: str = "") -> Prompt:
    """A candidate: plain (the probe), with an approach hint, or from a plan."""
    if chat:
        if not (hint or plan or notes):
            return _chat(problem, "")  # the probe: the request as the user wrote it
        tail = ""
        if notes:
            tail += f"Observations about the problem:\n{notes.strip()}\n\n"
        if plan:
            tail += f"Implement this approach:\n{plan.strip()}\n\n"
        if hint:
            tail += f"{hint}\n\n"
        return _chat(problem, tail + _code_ask(problem))
    head = _base_head(problem)
    extra = "\n".join(x for x in (plan, hint) if x)
    if extra and problem.stub:
        # Inside the function body, after the docstring: the varying part stays last.
        head += "    " + "\n    ".join(f"# {line}" for line in extra.strip().splitlines()) + "\n"
    elif extra:
        head = f"# Approach: {extra.strip()}\n" + head
    return Prompt(text=head, prefix=head, stop=CODE_STOPS)


def constraints(problem: Problem, chat: bool) -> Prompt:
    ask = (
        "List the key observations for solving this task as a short numbered list: what the "
        "examples imply, edge cases, constraints on the input. Do not write code."
    )
    if chat:
        return _chat(problem, ask)
    text = f"{_base_head(problem)}\n# Key observations about this task:\n# 1."
    return Prompt(text=text, prefix="1.", stop=["\n\n", "\ndef ", "\nclass "])


def plans(problem: Problem, chat: bool, notes: str, n: int) -> Prompt:
    ask = (
        f"Observations:\n{notes.strip()}\n\nPropose {n} different approaches to solve this "
        "task, each a different strategy (not small variations), as a numbered list with one "
        "or two sentences each. Do not write code."
    )
    if chat:
        return _chat(problem, ask)
    text = (
        f"{_base_head(problem)}\n{_comment('Observations: ' + notes)}\n"
        f"# {n} different approaches:\n# 1."
    )
    return Prompt(text=text, prefix="1.", stop=["\n\n", "\ndef ", "\nclass "])


def selftests(problem: Problem, chat: bool, n: int) -> Prompt:
    entry = problem.entry_point or "solution"
    if chat:
        ask = (
            f"Write {n} test cases for `{entry}` as Python assert statements, one per line, "
            f"in a single ```python block, in the form `assert {entry}(...) == expected`. Use "
            "small inputs whose correct result you are sure of, including edge cases. Only "
            "the asserts, no function definition."
        )
        return _chat(problem, ask)
    head = problem.stub.rstrip() + "\n    ...\n" if problem.stub else _base_head(problem)
    text = f"{head}\n\n# Tests\nassert {entry}("
    return Prompt(text=text, prefix=f"assert {entry}(", stop=["\n\n", "\ndef ", "\nclass "])


def feedback_block(failures: list[str]) -> str:
    return "\n".join(f"- {f}" for f in failures) or "- (no test details)"


def critique(problem: Problem, chat: bool, code_text: str, failures: list[str]) -> Prompt:
    lens = "\n".join(f"{i}. {name}: {q}" for i, (name, q) in enumerate(PERSPECTIVES, 1))
    if chat:
        ask = (
            f"This attempt is wrong:\n```{_fence(problem)}\n{code_text}\n```\n"
            f"Running it gave:\n{feedback_block(failures)}\n\n"
            f"Analyse the failure briefly from four perspectives:\n{lens}\n"
            "Finish with one sentence saying exactly what must change. Do not write code."
        )
        return _chat(problem, ask)
    text = (
        f"{_base_head(problem)}\n# Attempt:\n{_comment(code_text)}\n# Test results:\n"
        f"{_comment(feedback_block(failures))}\n# Why it fails and what must change:\n#"
    )
    return Prompt(text=text, stop=["\n\n", "\ndef "])


def repair(
    problem: Problem,
    chat: bool,
    code_text: str,
    failures: list[str],
    analysis: str,
    fresh: bool = False,
) -> Prompt:
    """The repair. ``fresh``: do not show the failing code, only what it got wrong, so a model
    that keeps copying the code it is shown writes a new solution instead."""
    if chat:
        shown = "" if fresh else f"This attempt is wrong:\n```{_fence(problem)}\n{code_text}\n```\n"
        what = "A previous attempt" if fresh else "Running it"
        review = (
            "A reviewer's analysis (it may be mistaken; the results above are facts):\n"
            f"{analysis.strip()}\n\n" if analysis.strip() else ""
        )
        ask = (
            f"{shown}{what} gave these wrong results:\n{feedback_block(failures)}\n\n"
            f"{review}Fix the code: for every failing test the function must return the "
            f"expected value, not the value it got. {_code_ask(problem)}"
        )
        if fresh:
            ask = ask.replace("Fix the code:", "Write a new, correct solution:")
        return _chat(problem, ask)
    notes = (
        f"# A wrong attempt:\n{_comment(code_text)}\n# It failed:\n"
        f"{_comment(feedback_block(failures))}\n"
    )
    if analysis.strip():
        notes += f"# Analysis:\n{_comment(analysis)}\n"
    head = _base_head(problem)
    return Prompt(text=f"{notes}# Corrected version:\n{head}", prefix=head, stop=CODE_STOPS)
