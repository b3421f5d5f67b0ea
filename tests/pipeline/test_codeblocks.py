from proxy.pipeline.codeblocks import extract_code, prose, runnable


def test_picks_the_block_that_defines_the_entry_point():
    text = (
        "Usage:\n```python\nprint(add(1, 2))\n```\nCode:\n```python\ndef add(a, b):\n"
        "    return a + b\n```\n"
    )
    assert extract_code(text, "python", "add") == "def add(a, b):\n    return a + b"


def test_unclosed_fence_and_cut_tail():
    text = "```python\ndef add(a, b):\n    return a + b\n\ndef other(x):\n    return (x +"
    assert extract_code(text, "python", "add") == "def add(a, b):\n    return a + b"


def test_raw_code_after_prose_and_empty_output():
    assert extract_code("Sure.\ndef f():\n    return 1", "python", "f") == "def f():\n    return 1"
    assert extract_code("", "python", "f") == ""
    assert extract_code("I cannot help with that.", "python", "f") == ""


def test_endless_repetition_is_cut():
    text = "```python\ndef f(x):\n" + "    x = x + 1\n" * 50 + "    return x\n```"
    code = extract_code(text, "python", "f")
    assert code.count("x = x + 1") <= 4


def test_runnable_strips_demos_and_adds_missing_imports():
    code = (
        "import math\ndef f(xs: List[int]) -> int:\n    return len(xs)\n\nprint(f([1]))\n"
        'x = input()\nif __name__ == "__main__":\n    f([])\nassert f([]) == 0\nTABLE = {1: 2}\n'
    )
    out = runnable(code, ["from typing import List", "import math"])
    assert out.startswith("from typing import List\n")
    assert "print(" not in out and "input(" not in out and "__main__" not in out
    assert "assert" not in out and "TABLE = {1: 2}" in out and out.count("import math") == 1


def test_prose_is_the_text_outside_code():
    assert prose("Here:\n```python\nx = 1\n```\nIt sets x.") == "Here:\n\nIt sets x."
