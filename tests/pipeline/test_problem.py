from proxy.openai.protocol import ChatCompletionRequest, ChatMessage
from proxy.pipeline.problem import extract
from tests.pipeline.conftest import ADD_STUB, user


def examples_of(text: str) -> list[str]:
    return [e.test for e in extract(user(text)).examples]


def test_doctest_stub():
    p = extract(user(ADD_STUB))
    assert p.entry_point == "add" and p.signature == "def add(a, b):" and p.params == ["a", "b"]
    assert examples_of(ADD_STUB) == ["assert add(1, 2) == 3", "assert add(-1, 1) == 0"]


def test_humaneval_style_fenced_prompt_keeps_imports_and_picks_the_stub():
    stub = (
        "from typing import List\n\n\ndef helper(x):\n    return x\n\n\n"
        'def longest(strings: List[str]):\n    """ Longest string, None if empty.\n'
        "    >>> longest([])\n\n    >>> longest(['a', 'bb'])\n    'bb'\n    \"\"\"\n"
    )
    p = extract(user(f"Complete the following Python function.\n\n```python\n{stub}```"))
    assert p.entry_point == "longest"
    assert p.imports == ["from typing import List"]
    assert [e.test for e in p.examples] == [
        "assert longest([]) is None",
        "assert longest(['a', 'bb']) == 'bb'",
    ]


def test_prose_examples_and_their_pitfalls():
    text = '''def f(s):
    """Examples:
    f("ab") => 2
    f('') -> 0
    f(abc) => 3
    f("x") -> 19 - 5 - 6 = 8
    f("abcd") == 4.
    """
'''
    # Unquoted arguments and arithmetic "results" are not trustworthy: dropped.
    assert examples_of(text) == [
        'assert f("ab") == 2',
        "assert f('') == 0",
        'assert f("abcd") == 4',
    ]


def test_definitions_mixed_with_examples_keep_the_examples():
    text = '''def tri(n):
    """tri(1) = 3
    tri(4) = 3
    Examples:
    tri(3) = [1, 3, 2, 8]
    """
'''
    assert examples_of(text) == ["assert tri(3) == [1, 3, 2, 8]"]


def test_comparison_doctests_floats_and_print():
    text = '''def g(x):
    """
    >>> g(3) == 'xix'
    >>> g(0.5)
    0.25
    >>> print(g(1))
    hello world
    """
'''
    assert examples_of(text) == [
        "assert g(3) == 'xix'",
        "assert _atlas_close(g(0.5), 0.25)",
        "assert str(g(1)) == 'hello world'",
    ]


def test_mbpp_style_assert_and_io_examples():
    text = (
        "Write a function to find the minimum cost path.\nYour code should satisfy this "
        "example:\n```python\nassert min_cost([[1, 2], [3, 4]], 1, 1) == 5\n```"
    )
    p = extract(user(text))
    assert p.entry_point == "min_cost" and p.stub is None
    assert [e.test for e in p.examples] == ["assert min_cost([[1, 2], [3, 4]], 1, 1) == 5"]
    io = '''def pluck(arr, k):
    """Example 1:
        Input: arr = [4, 2, 3], k = 2
        Output: [2, 1]
    """
'''
    assert examples_of(io) == ["assert pluck([4, 2, 3], 2) == [2, 1]"]


def test_code_only_and_instructions():
    req = ChatCompletionRequest(
        model="atlas",
        messages=[
            ChatMessage(role="system", content="Answer with code only."),
            ChatMessage(role="user", content="Write a python function add(a, b)."),
        ],
    )
    p = extract(req)
    assert p.code_only and p.instructions == "Answer with code only."
    assert not extract(user("Write a python function add(a, b).")).code_only
    bare = extract(user("Write add(a, b) in Python. Do not use markdown."))
    assert bare.no_fence and bare.code_only
    assert not extract(user("Explain markdown tables, then write add(a, b).")).no_fence


def test_other_language_is_kept_as_text():
    p = extract(user("Write a Go function that adds two ints."), "go")
    assert p.language == "go" and p.entry_point is None and not p.examples
