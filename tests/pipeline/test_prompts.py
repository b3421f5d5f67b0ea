from proxy.pipeline import prompts
from proxy.pipeline.problem import extract
from tests.pipeline.conftest import ADD_STUB, user


def test_chat_prompts_share_the_request_as_prefix():
    """Every call of a request starts with the user's text, so the KV cache is reused."""
    problem = extract(user(ADD_STUB))
    probe = prompts.code(problem, True)
    assert probe.messages == [{"role": "user", "content": ADD_STUB}]  # the request verbatim
    others = [
        prompts.code(problem, True, hint=prompts.APPROACHES[0]),
        prompts.code(problem, True, plan="Use +.", notes="1. ints"),
        prompts.constraints(problem, True),
        prompts.plans(problem, True, "1. ints", 2),
        prompts.selftests(problem, True, 5),
        prompts.critique(problem, True, "def add(a, b): return a - b", ["assert ... got -1"]),
        prompts.repair(problem, True, "def add(a, b): return a - b", ["got -1"], "use +"),
    ]
    for prompt in others:
        assert prompt.messages[-1]["content"].startswith(ADD_STUB.strip("\n"))
        assert len(prompt.messages) == 1  # no system message of ours


def test_user_system_message_is_kept_first():
    from proxy.openai.protocol import ChatCompletionRequest, ChatMessage

    req = ChatCompletionRequest(
        model="atlas",
        messages=[
            ChatMessage(role="system", content="Use type hints."),
            ChatMessage(role="user", content=ADD_STUB),
        ],
    )
    problem = extract(req)
    for prompt in (prompts.code(problem, True), prompts.selftests(problem, True, 3)):
        assert prompt.messages[0] == {"role": "system", "content": "Use type hints."}


def test_completion_prompts_for_base_models():
    problem = extract(user(ADD_STUB))
    probe = prompts.code(problem, False)
    assert probe.text == probe.prefix and probe.text.startswith("def add(a, b):")
    hinted = prompts.code(problem, False, hint="Use a loop.")
    assert hinted.text.endswith("    # Use a loop.\n")  # inside the body, after the docstring
    tests = prompts.selftests(problem, False, 5)
    assert tests.text.endswith("assert add(") and tests.prefix == "assert add("
    fix = prompts.repair(problem, False, "def add(a, b):\n    return a - b", ["got -1"], "")
    assert fix.text.endswith(probe.text) and "#     return a - b" in fix.text
