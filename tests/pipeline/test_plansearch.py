from proxy.pipeline.diversity import hints
from proxy.pipeline.plansearch import numbered


def test_numbered_lists_in_the_shapes_small_models_write():
    text = (
        "### Approach 1: Using a Stack\n- **Description**: push every char.\n"
        "### Approach 2: Two pointers\n- **Description**: walk from both ends.\n"
    )
    assert numbered(text) == [
        "Using a Stack Description: push every char.",
        "Two pointers Description: walk from both ends.",
    ]
    assert numbered("1. sum the two numbers\n2) handle negative numbers too\n3. ok") == [
        "sum the two numbers",
        "handle negative numbers too",
    ]
    assert numbered("- first idea is this\n- second idea is that") == [
        "first idea is this",
        "second idea is that",
    ]
    assert numbered("# 1. observation one here\n# 2. observation two here") == [
        "observation one here",
        "observation two here",
    ]
    assert numbered("no list at all") == []


def test_hints_are_distinct_and_stable():
    assert len(set(hints(5))) == 5 and hints(2) == hints(5)[:2]


def test_code_pasted_into_plans_is_stripped():
    from proxy.pipeline.plansearch import strip_code

    plan = "Using the `round()` Function def f(n, m): if n > m: return -1 Explanation: ..."
    assert strip_code(plan) == "Using the `round()` Function"
    assert strip_code("Sort first, then scan once keeping the best pair.") == (
        "Sort first, then scan once keeping the best pair."
    )
